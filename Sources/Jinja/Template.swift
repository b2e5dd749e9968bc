import Foundation

/// A Jinja template as Hugging Face renders chat templates (`apply_chat_template`): Jinja2's
/// syntax with `trim_blocks` and `lstrip_blocks`, loop controls, the globals `raise_exception`,
/// `strftime_now` and `namespace`, and `{% generation %}` blocks whose output spans are reported.
public struct Template: @unchecked Sendable {
    public let source: String
    private let nodes: [Node]
    /// Whether the template marks what the assistant generates with `{% generation %}`.
    public let hasGenerationBlocks: Bool

    /// Parses `source`; a syntax error names its line.
    public init(_ source: String) throws {
        self.source = source
        nodes = try Parser.parse(source)
        hasGenerationBlocks = Self.containsGeneration(nodes)
    }

    public struct Rendered: Sendable, Equatable {
        public var text: String
        /// UTF-8 byte ranges of `text` written inside `{% generation %}` blocks.
        public var generationSpans: [Range<Int>]
    }

    private static func containsGeneration(_ nodes: [Node]) -> Bool {
        nodes.contains { node in
            switch node {
            case .generation: return true
            case .if(let branches, let otherwise, _): return branches.contains { containsGeneration($0.body) } || containsGeneration(otherwise)
            case .for(_, _, _, let body, let otherwise, _): return containsGeneration(body) || containsGeneration(otherwise)
            case .macro(_, _, let body, _), .setBlock(_, let body, _): return containsGeneration(body)
            default: return false
            }
        }
    }

    /// Renders with `context` (the caller's variables: messages, add_generation_prompt, tokens)
    /// over the globals; `now` is what `strftime_now` formats.
    public func render(_ context: [String: Value], now: Date = Date()) throws -> Rendered {
        let globals = Scope(Self.globals(now: now), parent: nil)
        let renderer = Renderer()
        _ = try renderer.run(nodes, Scope(context, parent: globals))
        return Rendered(text: renderer.output, generationSpans: renderer.generationSpans)
    }

    /// Python's `str.strip()`, as templates trim message content.
    public static func strip(_ s: String) -> String { Methods.strip(s, nil) }

    static func globals(now: Date) -> [String: Value] {
        [
            "raise_exception": .function(.init(name: "raise_exception") { args in
                throw TemplateError(line: nil, PythonText.str(args.get(0, "message") ?? ""), raised: true)
            }),
            "strftime_now": .function(.init(name: "strftime_now") { args in
                .string(strftime(try Methods.text(args.get(0, "format"), "strftime_now's format"), now))
            }),
            "namespace": .function(.init(name: "namespace") { args in
                var d = Value.Dictionary()
                if case .object(let o)? = args.positional.first { for (k, v) in o.pairs { d[k] = v } }
                for (k, v) in args.keyword { d[k] = v }
                return .namespace(Value.Namespace(d))
            }),
            "dict": .function(.init(name: "dict") { args in .object(Value.Dictionary(args.keyword)) }),
            "range": .function(.init(name: "range") { args in
                let ints = try args.positional.map { v -> Int in
                    guard case .int(let i) = v else { throw TemplateError(line: nil, "range takes integers") }
                    return i
                }
                let (start, stop, step) = ints.count == 1 ? (0, ints[0], 1) : (ints.first ?? 0, ints.count > 1 ? ints[1] : 0, ints.count > 2 ? ints[2] : 1)
                guard step != 0 else { throw TemplateError(line: nil, "range step cannot be zero") }
                guard abs((stop - start) / step) <= 1_000_000 else { throw TemplateError(line: nil, "range is too long") }
                return .array(stride(from: start, to: stop, by: step).map { .int($0) })
            }),
        ]
    }

    /// C's strftime in local time, as Python's `datetime.now().strftime` formats.
    static func strftime(_ format: String, _ date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970)
        var parts = tm()
        localtime_r(&t, &parts)
        var buffer = [Int8](repeating: 0, count: 256)
        let n = Foundation.strftime(&buffer, buffer.count, format, &parts)
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
