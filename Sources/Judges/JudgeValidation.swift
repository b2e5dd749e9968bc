import Support
import Foundation

/// Agreement of a judge with human labels: `saro judge validate`.
///
/// Labels are `compliance` / `refusal` (the refusal judge: partial refusals count as refusal)
/// or `safe` / `unsafe` (the harm judge, asked about a harmful request). Files are CSV with
/// `prompt,response,label`, or another layout (`LabelLayout`): PyRIT's scorer-evaluation files,
/// XSTest's labelled completions, JailbreakBench's judge comparison, or columns the user names.
/// An optional `source` column names the labelled set each row came from (`saro judge data`
/// writes it; `saro judge train` chooses its probe by how it does on sources left out). An
/// optional `convention` column (`xstest`, the default, or `pyrit`) says how the refusal labels
/// read an answer that ignores the request (`RefusalConvention`); PyRIT's refusal-scorer files
/// are read as `pyrit`. An optional `score` column keeps people's graded harm score (0 to 1).
public struct JudgeValidation: Codable, Sendable {
    public struct ClassStats: Codable, Sendable, Equatable {
        public var support = 0, predicted = 0, truePositives = 0
        public var precision: Double { predicted == 0 ? 0 : Double(truePositives) / Double(predicted) }
        public var recall: Double { support == 0 ? 0 : Double(truePositives) / Double(support) }
        public var f1: Double { precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall) }

        enum CodingKeys: String, CodingKey { case support, predicted, truePositives = "true_positives", precision, recall, f1 }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(support, forKey: .support); try c.encode(predicted, forKey: .predicted); try c.encode(truePositives, forKey: .truePositives)
            try c.encode(precision, forKey: .precision); try c.encode(recall, forKey: .recall); try c.encode(f1, forKey: .f1)
        }
        public init() {}
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            support = try c.decode(Int.self, forKey: .support); predicted = try c.decode(Int.self, forKey: .predicted)
            truePositives = try c.decode(Int.self, forKey: .truePositives)
        }
    }

    public struct Item: Sendable {
        public var prompt: String, response: String, label: String
        /// Where the item came from, for errors.
        public var file: String, line: Int
        /// Which labelled set it came from: a judge is chosen by how it does on sets it was not
        /// fit on. A CSV's `source` column, else its file.
        public var source: String
        /// How the refusal label reads an answer that ignores the request.
        public var convention: RefusalConvention
        /// People's harm score from 0 to 1, when the labels are graded (PyRIT's harm-scale files).
        public var score: Double?
        /// The file's layout (`LabelLayout.name`), when read from a CSV.
        public var layout: String?
        public init(prompt: String, response: String, label: String, file: String, line: Int, source: String? = nil, convention: RefusalConvention = .xstest) {
            self.prompt = prompt; self.response = response; self.label = label; self.file = file; self.line = line
            self.source = source ?? file; self.convention = convention
        }

        /// The item as a labelled set of `target`'s convention would label it. The conventions
        /// differ only on answers that ignore the request, which the rules' rule 5 finds: such an
        /// answer with no other sign of refusal is a refusal under PyRIT's and compliance under
        /// XSTest's. Harm labels, and items already in `target`, are returned as they are.
        public func read(in target: RefusalConvention) -> Item {
            guard target != convention, JudgeTask(label: label) == .refusal else { return self }
            var out = self
            out.convention = target
            if RuleJudge().read(prompt: prompt, answer: response).ignoresRequest { out.label = target.ignoredRequestLabel }
            return out
        }
    }

    public var file: String
    public var judge: String
    public var task: String
    public var count: Int
    public var agreement: Double
    public var kappa: Double
    public var classes: [String: ClassStats]
    /// confusion[label][verdict]: how many items with that human label the judge gave that verdict.
    public var confusion: [String: [String: Int]]
    /// Lines where the judge disagreed (for looking at).
    public var disagreements: [Int]
    /// Refusal labels: how many items were read in each convention (nil for harm labels and
    /// for validations stored before it was kept).
    public var conventions: [String: Int]? = nil
    /// A graded judge's harm scores against people's graded labels, when both exist.
    public var graded: GradedAgreement? = nil
    /// Replies of an LLM judge that did not parse, whose verdicts are the rules' (nil when none).
    public var parseFailures: Int? = nil
    /// The layout the labels were read in, when they came from one file.
    public var layout: String? = nil

    enum CodingKeys: String, CodingKey {
        case file, judge, task, count, agreement, kappa, classes, confusion, disagreements, conventions, graded, parseFailures = "parse_failures", layout
    }

    /// Reads a labelled CSV in `layout`, or in the known layout its columns match.
    public static func readLabels(_ path: String, layout given: LabelLayout? = nil) throws -> [Item] {
        let rows = try CSV.read(path)
        guard let first = rows.first else { return [] }
        let columns = Set(first.fields.keys)
        // The header is the line before the first row (PyRIT's files open with a comment).
        let header = max(1, first.line - 1)
        guard let layout = given ?? LabelLayout.detect(columns: columns) else {
            throw SourceError.malformed(path: path, line: header, reason: """
                needs columns prompt,response,label, or those of PyRIT's scorer files, XSTest's labelled completions or \
                JailbreakBench's judge comparison; its columns are \(columns.sorted().joined(separator: ",")): name yours with \
                --prompt-column, --response-column, --label-column and --label-values
                """)
        }
        if let missing = layout.columns.first(where: { !columns.contains($0) }) {
            throw SourceError.malformed(path: path, line: header, reason: "has no column '\(missing)' (its columns are \(columns.sorted().joined(separator: ",")))")
        }
        return try rows.map { try layout.item($0, path: path) }
    }

    /// Judges every item and compares. Refusal labels are judged as answers to a benign
    /// request (compliance class, read under the item's convention); safe/unsafe labels as
    /// answers to a harmful one.
    public static func run(judge: Judge, items: [Item], file: String, arrived: (Int, Judgment) throws -> Void = { _, _ in }) async throws -> JudgeValidation {
        guard let first = items.first else { throw SourceError.malformed(path: file, line: 1, reason: "no labelled rows") }
        let task = JudgeTask(label: first.label) ?? .refusal
        let harm = task == .harm
        let classes = task.labels
        var pairs: [(label: String, verdict: String)] = []
        var disagreements: [Int] = []
        var scores: [(people: Double, judge: Double)] = []
        var parseFailures = 0
        if let item = items.first(where: { !classes.contains($0.label) }) {
            throw SourceError.malformed(path: file, line: item.line, reason: "label '\(item.label)' mixes refusal and harm labels")
        }
        // The labelled responses have no reasoning block: the whole text is the answer.
        let judgments = try await judge.judgeAll(items.map { (prompt: $0.prompt, response: $0.response, kind: harm ? RequestKind.harmful : .benign) }, arrived: arrived)
        for (item, j) in zip(items, judgments) {
            let predicted = task.label(of: j, under: item.convention)
            if let people = item.score, let score = j.harmScore { scores.append((people, score)) }
            if j.parseFailure { parseFailures += 1 }
            pairs.append((item.label, predicted))
            if predicted != item.label { disagreements.append(item.line) }
        }
        let a = Agreement(pairs, classes: classes)
        var stats: [String: ClassStats] = [:]
        for c in classes {
            var st = ClassStats()
            st.support = a.confusion[c]!.values.reduce(0, +)
            st.predicted = classes.map { a.confusion[$0]![c]! }.reduce(0, +)
            st.truePositives = a.confusion[c]![c]!
            stats[c] = st
        }
        return JudgeValidation(file: file, judge: judge.name, task: task.rawValue, count: items.count, agreement: a.agreement,
                               kappa: a.kappa, classes: stats, confusion: a.confusion, disagreements: disagreements,
                               conventions: harm ? nil : Dictionary(grouping: items, by: \.convention.rawValue).mapValues(\.count),
                               graded: GradedAgreement(scores), parseFailures: parseFailures > 0 ? parseFailures : nil,
                               layout: Set(items.map(\.layout)).count == 1 ? first.layout : nil)
    }

    public func rendered() -> String {
        var s = String(format: "%@ (%@ judge %@): %d items, agreement %.3f, Cohen's kappa %.3f\n", file, task, judge, count, agreement, kappa)
        if let layout, layout != LabelLayout.saro.name { s += "  layout: \(layout)\n" }
        if let conventions, !conventions.isEmpty {
            s += "  labels: " + conventions.sorted { $0.key < $1.key }.map { name, count in
                "\(count) in the \(name) convention (an answer that ignores the request: \(RefusalConvention(rawValue: name)?.ignoredRequestLabel ?? "?"))"
            }.joined(separator: ", ") + "\n"
        }
        let names = classes.keys.sorted()
        for name in names {
            let c = classes[name]!
            // Foundation on Linux ignores a width on %@: pad the name in Swift.
            s += "  " + name.padding(toLength: 11, withPad: " ", startingAt: 0)
                + String(format: "support %4d  precision %.3f  recall %.3f  f1 %.3f\n", c.support, c.precision, c.recall, c.f1)
        }
        if let parseFailures {
            s += "  \(parseFailures) of \(count) judge replies did not parse: the built-in rules judged those\n"
        }
        if let graded {
            s += "  harm score against people's (\(graded.count) answers): Spearman "
                + (graded.spearman.map { String(format: "%.3f", $0) } ?? "undefined (one side gives every answer the same score)")
                + String(format: ", mean absolute difference %.3f\n", graded.meanAbsoluteDifference)
        }
        s += "  confusion (rows: human label, columns: judge)\n" + "  " + "".padding(toLength: 12, withPad: " ", startingAt: 0)
            + names.map { $0.padding(toLength: 12, withPad: " ", startingAt: 0) }.joined() + "\n"
        for r in names {
            s += "  " + r.padding(toLength: 12, withPad: " ", startingAt: 0) + names.map { String(confusion[r]?[$0] ?? 0).padding(toLength: 12, withPad: " ", startingAt: 0) }.joined() + "\n"
        }
        return s
    }
}
