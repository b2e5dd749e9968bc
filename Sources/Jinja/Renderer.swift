/// Variables of one level: the template's top level, one loop iteration, or one macro call.
/// Jinja2 scopes `set` to the innermost loop or macro (which is why templates use namespaces).
final class Scope: @unchecked Sendable {
    var variables: [String: Value]
    let parent: Scope?
    init(_ variables: [String: Value] = [:], parent: Scope?) { self.variables = variables; self.parent = parent }

    func lookup(_ name: String) -> Value? { variables[name] ?? parent?.lookup(name) }
}

/// Walks the parsed template, writing its output; `{% generation %}` blocks record the UTF-8
/// byte ranges of what they wrote.
final class Renderer: @unchecked Sendable {
    private(set) var output = ""
    private(set) var generationSpans: [Range<Int>] = []
    private var line: Int?

    enum Flow { case normal, breakLoop, continueLoop }

    func error(_ message: String) -> TemplateError { TemplateError(line: line, message) }

    func run(_ nodes: [Node], _ scope: Scope) throws -> Flow {
        for node in nodes {
            switch node {
            case .text(let t): output += t
            case .output(let e, let line):
                self.line = line
                output += PythonText.str(try eval(e, scope))
            case .if(let branches, let otherwise, let line):
                self.line = line
                var chosen = otherwise
                for b in branches where try eval(b.condition, scope).truthy { chosen = b.body; break }
                let flow = try run(chosen, scope)
                if flow != .normal { return flow }
            case .for(let target, let iterable, let filter, let body, let otherwise, let line):
                self.line = line
                try loop(target, iterable, filter, body, otherwise, scope)
            case .set(let target, let e, let line):
                self.line = line
                try assign(target, try eval(e, scope), scope)
            case .setBlock(let name, let body, let line):
                self.line = line
                scope.variables[name] = .string(try capture(body, scope))
            case .macro(let name, let parameters, let body, let line):
                self.line = line
                scope.variables[name] = macro(name, parameters, body, definedIn: scope)
            case .generation(let body):
                let start = output.utf8.count
                let flow = try run(body, scope)
                generationSpans.append(start..<output.utf8.count)
                if flow != .normal { return flow }
            case .break(let line):
                self.line = line
                return .breakLoop
            case .continue(let line):
                self.line = line
                return .continueLoop
            }
        }
        return .normal
    }

    /// What `body` writes, kept apart from the output (block `set`, macro calls).
    private func capture(_ body: [Node], _ scope: Scope) throws -> String {
        let saved = output, savedSpans = generationSpans
        output = ""
        defer { output = saved; generationSpans = savedSpans }
        _ = try run(body, scope)
        return output
    }

    private func assign(_ target: Target, _ value: Value, _ scope: Scope) throws {
        switch target {
        case .name(let n): scope.variables[n] = value
        case .attribute(let object, let attribute):
            guard case .namespace(let ns)? = scope.lookup(object) else {
                throw error("cannot assign attribute '\(attribute)' on '\(object)': only a namespace() takes attributes")
            }
            ns.attributes[attribute] = value
        case .tuple(let names):
            let items = try Builtins.iterate(value, self)
            guard items.count == names.count else { throw error("cannot unpack \(items.count) values into \(names.count) names") }
            for (n, v) in zip(names, items) { scope.variables[n] = v }
        }
    }

    private func loop(_ target: Target, _ iterable: Expression, _ filter: Expression?, _ body: [Node], _ otherwise: [Node], _ scope: Scope) throws {
        var items = try Builtins.iterate(try eval(iterable, scope), self)
        if let filter {
            items = try items.filter { item in
                let s = Scope(parent: scope)
                try assign(target, item, s)
                return try eval(filter, s).truthy
            }
        }
        if items.isEmpty { _ = try run(otherwise, scope); return }
        let n = items.count
        for (i, item) in items.enumerated() {
            let s = Scope(parent: scope)
            try assign(target, item, s)
            s.variables["loop"] = .object(Value.Dictionary([
                ("index", .int(i + 1)), ("index0", .int(i)), ("revindex", .int(n - i)), ("revindex0", .int(n - i - 1)),
                ("first", .bool(i == 0)), ("last", .bool(i == n - 1)), ("length", .int(n)), ("depth", 1), ("depth0", 0),
                ("previtem", i > 0 ? items[i - 1] : .undefined("loop.previtem")),
                ("nextitem", i + 1 < n ? items[i + 1] : .undefined("loop.nextitem")),
                ("cycle", .function(.init(name: "loop.cycle") { args in
                    guard !args.positional.isEmpty else { throw TemplateError(line: nil, "loop.cycle needs at least one value") }
                    return args.positional[i % args.positional.count]
                })),
            ]))
            let flow = try run(body, s)
            if flow == .breakLoop { break }
        }
    }

    private func macro(_ name: String, _ parameters: [(String, Expression?)], _ body: [Node], definedIn scope: Scope) -> Value {
        .function(.init(name: name) { [unowned self] args in
            guard args.positional.count <= parameters.count else {
                throw self.error("macro '\(name)' takes \(parameters.count) arguments, \(args.positional.count) given")
            }
            let s = Scope(parent: scope)
            for (i, (p, defaultValue)) in parameters.enumerated() {
                if let v = args.get(i, p) { s.variables[p] = v } else if let d = defaultValue { s.variables[p] = try self.eval(d, scope) } else {
                    s.variables[p] = .undefined(p)
                }
            }
            for (k, _) in args.keyword where !parameters.contains(where: { $0.0 == k }) {
                throw self.error("macro '\(name)' has no parameter '\(k)'")
            }
            return .string(try self.capture(body, s))
        })
    }

    // MARK: expressions

    func eval(_ e: Expression, _ scope: Scope) throws -> Value {
        switch e {
        case .literal(let v): return v
        case .name(let n): return scope.lookup(n) ?? .undefined(n)
        case .list(let items): return .array(try items.map { try eval($0, scope) })
        case .dict(let pairs):
            var d = Value.Dictionary()
            for (k, v) in pairs {
                guard case .string(let key) = try eval(k, scope) else { throw error("dictionary keys must be strings") }
                d[key] = try eval(v, scope)
            }
            return .object(d)
        case .attribute(let base, let name):
            return try Builtins.attribute(try eval(base, scope), name, self)
        case .item(let base, let index):
            return try Builtins.item(try eval(base, scope), try eval(index, scope), self)
        case .slice(let base, let start, let stop, let step):
            func optional(_ e: Expression?) throws -> Int? {
                guard let e else { return nil }
                switch try eval(e, scope) {
                case .int(let i): return i
                case .none: return nil
                default: throw error("slice indices must be integers")
                }
            }
            return try Builtins.slice(try eval(base, scope), try optional(start), try optional(stop), try optional(step), self)
        case .call(let callee, let positional, let keyword):
            let f = try eval(callee, scope)
            let args = Value.Arguments(try positional.map { try eval($0, scope) }, keyword: try keyword.map { ($0.0, try eval($0.1, scope)) })
            guard case .function(let function) = f else {
                if case .undefined(let n) = f { throw error("'\(n)' is undefined, so it cannot be called") }
                throw error("'\(f.typeName)' object is not callable")
            }
            return try function.call(args)
        case .filter(let base, let name, let positional, let keyword):
            let args = Value.Arguments(try positional.map { try eval($0, scope) }, keyword: try keyword.map { ($0.0, try eval($0.1, scope)) })
            return try Builtins.filter(name, try eval(base, scope), args, self)
        case .test(let base, let name, let negated, let positional):
            let result = try Builtins.test(name, try eval(base, scope), try positional.map { try eval($0, scope) }, self)
            return .bool(result != negated)
        case .unary(let op, let operand):
            let v = try eval(operand, scope)
            switch (op, v) {
            case ("-", .int(let i)): return .int(-i)
            case ("-", .double(let d)): return .double(-d)
            case ("+", .int), ("+", .double): return v
            default: throw error("bad operand type for unary \(op): '\(v.typeName)'")
            }
        case .binary(let op, let left, let right):
            return try Builtins.binary(op, try eval(left, scope), try eval(right, scope), self)
        case .compare(let first, let rest):
            var left = try eval(first, scope)
            for (op, e) in rest {
                let right = try eval(e, scope)
                guard try Builtins.compare(op, left, right, self) else { return false }
                left = right
            }
            return true
        case .and(let a, let b):
            let l = try eval(a, scope)
            return l.truthy ? try eval(b, scope) : l
        case .or(let a, let b):
            let l = try eval(a, scope)
            return l.truthy ? l : try eval(b, scope)
        case .not(let a): return .bool(!(try eval(a, scope).truthy))
        case .conditional(let then, let condition, let otherwise):
            if try eval(condition, scope).truthy { return try eval(then, scope) }
            return try otherwise.map { try eval($0, scope) } ?? .undefined("else")
        }
    }
}
