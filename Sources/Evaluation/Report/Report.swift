import Support
import Foundation
import Jobs
import Judges

/// The evaluation of one model as the report reads it from an evaluation folder.
public struct ReportModel: Sendable {
    public var results: EvalResults
    public var examples: [ExampleResult]
    public var embedding: EmbeddingAnalysis?

    /// Reads `results.json`, `examples.jsonl` and, when present, `embedding.json`.
    public static func load(directory: String) throws -> ReportModel {
        func path(_ n: String) -> String { (directory as NSString).appendingPathComponent(n) }
        guard let data = FileManager.default.contents(atPath: path("results.json")) else { throw JSONLError.missingFile(path("results.json")) }
        let results: EvalResults
        do { results = try JSONDecoder().decode(EvalResults.self, from: data) } catch {
            throw JSONLError.malformed(path: path("results.json"), line: 1, reason: DecodingErrorText.describe(error))
        }
        let examples = FileManager.default.fileExists(atPath: path("examples.jsonl")) ? try JSONL.read(ExampleResult.self, path("examples.jsonl")) : []
        var embedding: EmbeddingAnalysis?
        if let e = FileManager.default.contents(atPath: path("embedding.json")) { embedding = try JSONDecoder().decode(EmbeddingAnalysis.self, from: e) }
        return ReportModel(results: results, examples: examples, embedding: embedding)
    }
}

/// `saro report`: one self-contained HTML page (inline SVG, no scripts, no network) and a
/// Markdown summary, comparing models side by side.
public struct Report {
    public var models: [ReportModel]
    public var curves: [TrainingCurves]
    public var title = "Evaluation report"
    public var note: String?
    /// The label of the model the others are compared against on the same prompts.
    public var focus: String?
    /// What each stage of the run behind the report cost, in run order (a report of a run
    /// shows them in a section of their own; `saro report` over result folders has none).
    public var stages: [StageCost] = []
    /// Models at several training intensities, for the frontier plot (empty: no such section).
    public var frontier: [FrontierPoint] = []
    /// Each model's evaluation in every run of several seeds, run 0 first (empty: one run).
    public var seedRuns: [(label: String, runs: [ReportModel])] = []

    public struct StageCost: Sendable, Equatable {
        public var name: String
        public var seconds: Double
        /// Peak resident memory of the process that ran the stage, MiB; nil when not recorded.
        public var peakMB: Double?
        public init(name: String, seconds: Double, peakMB: Double?) { self.name = name; self.seconds = seconds; self.peakMB = peakMB }
    }

    /// Models appear in the order given; `focus` (default: the last model) is the one the
    /// paired comparison sets against each of the others.
    public init(models: [ReportModel], curves: [TrainingCurves], focus: String? = nil) {
        self.models = models
        self.curves = curves
        self.focus = focus
    }

    /// Columns of the main table: title, benchmark, metric, whether lower is better.
    public static let columns: [(String, String, Metric, Bool)] = [
        ("HarmBench ASR", "harmbench", .asr, true), ("HarmBench harm score", "harmbench", .harmScore, true),
        ("JailbreakBench ASR", "jailbreakbench", .asr, true), ("JailbreakBench harm score", "jailbreakbench", .harmScore, true),
        ("Jailbreak ASR, seen families", "jailbreak", GroupedMetric.jailbreakSplitASR.metric("train"), true),
        ("Jailbreak ASR, held-out families", "jailbreak", GroupedMetric.jailbreakSplitASR.metric("held_out"), true),
        ("Jailbreak harm score", "jailbreak", .harmScore, true),
        ("XSTest safe: refusal", "xstest", .safeRefusalRate, true), ("XSTest safe: full refusal", "xstest", .safeFullRefusalRate, true),
        ("XSTest safe: partial refusal", "xstest", .safePartialRefusalRate, true), ("XSTest unsafe: compliance", "xstest", .unsafeComplianceRate, true),
        ("GSM8K accuracy", "gsm8k", .accuracy, false), ("NLL GSM8K ref.", "nll-gsm8k", .meanNLL, true), ("NLL HumanEval ref.", "nll-humaneval", .meanNLL, true),
        ("Reasoning tokens", "cost", .meanReasoningTokens, true), ("Answer tokens", "cost", .meanAnswerTokens, true),
        ("Format errors", "cost", .formatErrorRate, true),
    ]

    public static let sections = ["Results", "Uncertainty", "Seeds", "Frontier", "Ablations", "Jailbreak ASR by template family", "XSTest refusal by prompt type", "Embedding space", "Training curves", "Reflection statistics", "Judge agreement"]

    static func value(_ m: ReportModel, _ bench: String, _ metric: Metric) -> Double? {
        bench == "cost" ? m.results.cost[metric] : m.results.benchmarks[bench]?[metric]
    }

    // MARK: Markdown

    public func markdown() -> String {
        let cols = Self.columns.filter { c in models.contains { Self.value($0, c.1, c.2) != nil } }
        var s = "# \(title)\n\n"
        if let note { s += note + "\n\n" }
        s += "| Model | " + cols.map(\.0).joined(separator: " | ") + " |\n|---|" + cols.map { _ in "---:" }.joined(separator: "|") + "|\n"
        for m in models { s += "| \(Self.markdownText(m.results.label)) | " + cols.map { $0.2.formatted(Self.value(m, $0.1, $0.2)) }.joined(separator: " | ") + " |\n" }
        s += "\nASR: share of harmful requests answered unsafely (judge: \(models.first?.results.judge ?? "-")). Lower is better everywhere except GSM8K accuracy.\n"
        if let n = asrReading { s += n + "\n" }
        if cols.contains(where: { $0.2 == .harmScore }) { s += "Harm score: the graded judge's mean, 0 for a refusal up to 1 for specific, convincing help (StrongREJECT's scale).\n" }
        if let u = uncertainty() {
            s += "\n## Uncertainty\n\n" + Self.markdownTable(u.intervals) + "\n" + u.intervalsNote + "\n"
            if let paired = u.paired { s += "\n" + Self.markdownTable(paired) + "\n" + u.pairedNote + "\n" }
        }
        if let rows = seedRows() { s += "\n## Seeds\n\n" + Self.markdownTable(rows) + "\n" + Self.seedsNote + "\n" }
        if let rows = frontierRows() { s += "\n## Frontier\n\n" + Self.markdownTable(rows) + "\n" + frontierNote + "\n" }
        if let rows = ablationRows() { s += "\n## Ablations\n\n" + Self.markdownTable(rows) + "\n" + Self.ablationsNote + "\n" }
        let refl = models.map { ($0.results.label, ReflectionStats.shares($0.examples)) }
        if refl.contains(where: { !$0.1.isEmpty }) {
            s += "\n## Reflection statistics\n\n| Model | all | harmful | jailbreak | benign |\n|---|---:|---:|---:|---:|\n"
            for (label, r) in refl { s += "| \(Self.markdownText(label)) | " + ["all", "harmful", "jailbreak", "benign"].map { Metric.format(r[$0], .rate) }.joined(separator: " | ") + " |\n" }
        }
        if let rows = judgeAgreementRows() { s += "\n## Judge agreement\n\n" + Self.markdownTable(rows) + "\n" + Self.judgeAgreementNote + "\n" }
        if !stages.isEmpty { s += "\n## Stages\n\n" + Self.markdownTable(stageRows()) + "\n" + Self.stagesNote + "\n" }
        let emb = models.compactMap(\.embedding)
        if !emb.isEmpty {
            s += "\n## Embedding space\n\n| Model | layer | probe accuracy | harmful-benign | jailbreak-benign | harmful-jailbreak |\n|---|---:|---:|---:|---:|---:|\n"
            for e in emb {
                s += "| \(Self.markdownText(e.label)) | \(e.layer) | \(String(format: "%.3f", e.probeAccuracy)) | " +
                    ["benign-harmful", "benign-jailbreak", "harmful-jailbreak"].map { e.centroidDistances[$0].map { String(format: "%.2f", $0) } ?? "–" }.joined(separator: " | ") + " |\n"
            }
        }
        return s
    }

    // MARK: HTML

    public func html() -> String {
        var body = "<h1>\(SVG.escape(title))</h1>"
        if let note { body += "<p>\(SVG.escape(note))</p>" }
        body += section("Results", resultsTable())
        body += section("Uncertainty", uncertainty().map { u in
            Self.htmlTable(u.intervals) + "<p>\(SVG.escape(u.intervalsNote))</p>" + (u.paired.map { Self.htmlTable($0) + "<p>\(SVG.escape(u.pairedNote))</p>" } ?? "")
        } ?? "")
        if let rows = seedRows() { body += section("Seeds", Self.htmlTable(rows) + "<p>\(SVG.escape(Self.seedsNote))</p>") }
        if let rows = frontierRows() { body += section("Frontier", frontierChart() + Self.htmlTable(rows) + "<p>\(SVG.escape(frontierNote))</p>") }
        if let rows = ablationRows() { body += section("Ablations", Self.htmlTable(rows) + "<p>\(SVG.escape(Self.ablationsNote))</p>") }
        body += section("Jailbreak ASR by template family", familyChart())
        body += section("XSTest refusal by prompt type", xstestChart())
        body += section("Embedding space", embeddingPlots())
        body += section("Training curves", curveCharts())
        body += section("Reflection statistics", reflectionTable())
        if let rows = judgeAgreementRows() { body += section("Judge agreement", Self.htmlTable(rows) + "<p>\(SVG.escape(Self.judgeAgreementNote))</p>") }
        if !stages.isEmpty { body += section("Stages", Self.htmlTable(stageRows()) + "<p>\(SVG.escape(Self.stagesNote))</p>") }
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>\(SVG.escape(title))</title>
            <style>
            body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px; color: #222; }
            table { border-collapse: collapse; font-size: 13px; } th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
            th:first-child, td:first-child { text-align: left; } th { background: #f3f3f3; } td.best { font-weight: bold; background: #eef6ee; }
            section { margin-bottom: 28px; } .charts { display: flex; flex-wrap: wrap; gap: 12px; } .empty { color: #888; }
            </style></head><body>
            \(body)
            </body></html>
            """
    }

    func section(_ title: String, _ content: String) -> String {
        "<section id=\"\(title.lowercased().replacingOccurrences(of: " ", with: "-"))\"><h2>\(SVG.escape(title))</h2>" +
            (content.isEmpty ? "<p class=\"empty\">No data for this section in these runs.</p>" : content) + "</section>"
    }

    func resultsTable() -> String {
        let cols = Self.columns.filter { c in models.contains { Self.value($0, c.1, c.2) != nil } }
        guard !models.isEmpty, !cols.isEmpty else { return "" }
        var s = "<table><tr><th>Model</th>" + cols.map { "<th>\(SVG.escape($0.0))</th>" }.joined() + "</tr>"
        for m in models {
            s += "<tr><td>\(SVG.escape(m.results.label))</td>"
            for c in cols {
                let v = Self.value(m, c.1, c.2)
                let all = models.compactMap { Self.value($0, c.1, c.2) }
                let best = v != nil && all.count > 1 && v == (c.3 ? all.min() : all.max())
                s += "<td\(best ? " class=\"best\"" : "")>\(c.2.formatted(v))</td>"
            }
            s += "</tr>"
        }
        return s + "</table><p>Lower is better except GSM8K accuracy; the best value of each column is highlighted. Judge: \(SVG.escape(models[0].results.judge)).</p>"
            + (asrReading.map { "<p>\(SVG.escape($0))</p>" } ?? "")
    }

    /// What ASR counts under the rules, which judge harm by refusal alone.
    var asrReading: String? {
        guard models.first?.results.judge == "rules" else { return nil }
        return "The rules count every answer that does not refuse as unsafe: they cannot tell harmful help from an answer that goes along "
            + "and says nothing usable, as small models often do, so their ASR is the share of harmful requests not refused "
            + "(README: the rules against hand labels of the default recipe's answers)."
    }

    // MARK: Uncertainty

    /// The main table's rates with their 95% intervals, and the focus model (the caller's, or
    /// the last one) against each other model on the same prompts; nil when no model has per-example scores.
    func uncertainty() -> (intervals: [[String]], intervalsNote: String, paired: [[String]]?, pairedNote: String)? {
        let rates = ExampleRate.reported.filter { r in models.contains { !r.outcomes($0).isEmpty } }
        guard !rates.isEmpty else { return nil }
        var intervals = [["Model"] + rates.map(\.title)]
        for m in models {
            intervals.append([m.results.label] + rates.map { r in
                let o = r.outcomes(m)
                guard !o.isEmpty else { return "–" }
                let k = o.values.filter { $0 }.count, ci = PairedComparison.wilson(k, o.count)
                return String(format: "%.1f%% (%.1f–%.1f, n %d)", Double(k) / Double(o.count) * 100, ci.low * 100, ci.high * 100, o.count)
            })
        }
        let intervalsNote = "Each rate with its 95% Wilson interval and the number of prompts behind it."
        guard models.count > 1, let focus = models.last(where: { $0.results.label == self.focus }) ?? models.last else {
            return (intervals, intervalsNote, nil, "")
        }
        var paired = [["\(focus.results.label) against"] + rates.map(\.title)]
        for m in models where m.results.label != focus.results.label {
            paired.append([m.results.label] + rates.map { r in
                guard let c = PairedComparison.compare(focus, m, on: r) else { return "–" }
                let p = c.p < 0.001 ? "<0.001" : String(format: "%.3f", c.p)
                return String(format: "%+.1f (%d vs %d, p %@)", (c.focusRate - c.otherRate) * 100, c.focusOnly, c.otherOnly, p)
            })
        }
        let pairedNote = "Difference in points (\(focus.results.label) minus the row's model) on the prompts both answered; "
            + "in brackets the prompts where only \(focus.results.label) scored, where only the other did, and the exact McNemar p-value "
            + "(the chance of a split at least this uneven if the two models were equally likely to score)."
        return (intervals, intervalsNote, paired, pairedNote)
    }

    static func markdownTable(_ rows: [[String]]) -> String {
        guard let header = rows.first else { return "" }
        return "| " + header.map(markdownText).joined(separator: " | ") + " |\n|---|" + header.dropFirst().map { _ in "---:" }.joined(separator: "|") + "|\n"
            + rows.dropFirst().map { "| " + $0.map(markdownText).joined(separator: " | ") + " |\n" }.joined()
    }

    /// Text from outside (model labels) as literal Markdown inside a table cell: characters
    /// that would format, link, end the cell or open an HTML tag are backslash-escaped
    /// (CommonMark), and line breaks become spaces. "<" before a digit or space stays as is.
    static func markdownText(_ text: String) -> String {
        var out = ""
        let chars = Array(text)
        for (i, c) in chars.enumerated() {
            switch c {
            case "\\", "|", "`", "*", "_", "[", "]", "#": out += "\\\(c)"
            case "<":
                let next = i + 1 < chars.count ? chars[i + 1] : " "
                out += next.isLetter || "/!?".contains(next) ? "\\<" : "<"
            case "\n", "\r": out += " "
            default: out.append(c)
            }
        }
        return out
    }

    static func htmlTable(_ rows: [[String]]) -> String {
        guard let header = rows.first else { return "" }
        return "<table><tr>" + header.map { "<th>\(SVG.escape($0))</th>" }.joined() + "</tr>"
            + rows.dropFirst().map { "<tr>" + $0.map { "<td>\(SVG.escape($0))</td>" }.joined() + "</tr>" }.joined() + "</table>"
    }

    func familyChart() -> String {
        let metric = GroupedMetric.jailbreakFamilyASR
        let names = Array(Set(models.flatMap { metric.groups(in: $0.results.benchmarks["jailbreak"] ?? [:]) })).sorted()
        guard !names.isEmpty else { return "" }
        let heldOut = Set(models.flatMap { m in m.examples.filter { $0.example.groups["split"] == "held_out" }.compactMap { $0.example.groups["family"] } })
        let labels = names.map { heldOut.contains($0) ? "\($0) (held out)" : $0 }
        return SVG.bars(title: "Jailbreak ASR per family", categories: labels,
                        series: models.map { m in (m.results.label, names.map { m.results.benchmarks["jailbreak"]?[metric.key($0)] }) })
    }

    func xstestChart() -> String {
        let metric = GroupedMetric.xstestRefusalByType
        let types = Array(Set(models.flatMap { metric.groups(in: $0.results.benchmarks["xstest"] ?? [:]) })).sorted()
        guard !types.isEmpty else { return "" }
        return SVG.bars(title: "XSTest safe prompts: refusal rate by type", categories: types,
                        series: models.map { m in (m.results.label, types.map { m.results.benchmarks["xstest"]?[metric.key($0)] }) })
    }

    func embeddingPlots() -> String {
        let emb = models.compactMap(\.embedding)
        guard !emb.isEmpty else { return "" }
        var s = "<div class=\"charts\">"
        for e in emb {
            s += SVG.scatter(title: "\(e.label) (layer \(e.layer))", points: e.points.map { ($0.x, $0.y, $0.kind) }, groups: ["harmful", "jailbreak", "benign"])
        }
        s += "</div><table><tr><th>Model</th><th>layer</th><th>probe accuracy</th><th>harmful–benign</th><th>jailbreak–benign</th><th>harmful–jailbreak</th><th>PCA variance</th></tr>"
        for e in emb {
            s += "<tr><td>\(SVG.escape(e.label))</td><td>\(e.layer)</td><td>\(String(format: "%.3f", e.probeAccuracy))</td>" +
                ["benign-harmful", "benign-jailbreak", "harmful-jailbreak"].map { "<td>\(e.centroidDistances[$0].map { String(format: "%.2f", $0) } ?? "–")</td>" }.joined() +
                "<td>\(e.explainedVariance.map { String(format: "%.2f", $0) }.joined(separator: ", "))</td></tr>"
        }
        return s + "</table><p>Mean-pooled hidden states projected on their first two principal components. Probe: softmax regression, 5-fold cross-validated. Centroid distances in units of the mean within-kind spread.</p>"
    }

    func curveCharts() -> String {
        guard !curves.isEmpty else { return "" }
        let wanted = ["loss", "eval_loss", "rewards/accuracies", "eval_rewards/accuracies", "rewards/margins", "eval_rewards/margins", "lr"]
        let keys = wanted.filter { k in curves.contains { $0.series[k] != nil } }
        var s = "<div class=\"charts\">"
        for k in keys { s += SVG.lines(title: k, series: curves.compactMap { c in c.series[k].map { (c.label, $0) } }) }
        return s + "</div>"
    }

    func reflectionTable() -> String {
        let rows = models.map { ($0.results.label, ReflectionStats.shares($0.examples)) }.filter { !$0.1.isEmpty }
        guard !rows.isEmpty else { return "" }
        var s = "<table><tr><th>Model</th><th>all</th><th>harmful</th><th>jailbreak</th><th>benign</th></tr>"
        for (label, r) in rows { s += "<tr><td>\(SVG.escape(label))</td>" + ["all", "harmful", "jailbreak", "benign"].map { "<td>\(Metric.format(r[$0], .rate))</td>" }.joined() + "</tr>" }
        return s + "</table><p>Share of responses with a reflection or self-correction phrase (\(ReflectionStats.phrases.prefix(4).joined(separator: ", ")), \"wait\", ...).</p>"
    }

    /// Stage, minutes and peak memory, with the run's total and largest peak last.
    /// One row per model whose evaluation had a second judge; nil when none had.
    func judgeAgreementRows() -> [[String]]? {
        let judged = models.compactMap { m in m.results.judgeAgreement.map { (m.results.label, $0) } }
        guard !judged.isEmpty else { return nil }
        func cells(_ a: Agreement?) -> [String] {
            guard let a else { return ["–", "–", "–"] }
            return [String(a.count), String(format: "%.3f", a.agreement), String(format: "%.3f", a.kappa)]
        }
        let header = ["Model", "Judges", "Harmful: responses", "agreement", "kappa", "Benign: responses", "agreement", "kappa"]
        let rows: [[String]] = judged.map { label, a in
            let names: [String] = [label, a.judges.joined(separator: " / ")]
            return names + cells(a.harm) + cells(a.refusal)
        }
        return [header] + rows
    }

    static let judgeAgreementNote = "Two judges on the same responses: on harmful and jailbreak requests whether the answer is unsafe, on benign ones whether it refuses; "
        + "agreement and Cohen's kappa (agreement beyond chance). A difference between models smaller than the judges' disagreement may be the judges'."

    func stageRows() -> [[String]] {
        func mb(_ v: Double?) -> String { v.map { String(format: "%.0f", $0) } ?? "–" }
        var rows = [["Stage", "minutes", "peak resident MB"]]
        for c in stages { rows.append([c.name, String(format: "%.1f", c.seconds / 60), mb(c.peakMB)]) }
        rows.append(["all", String(format: "%.1f", stages.map(\.seconds).reduce(0, +) / 60), mb(stages.compactMap(\.peakMB).max())])
        return rows
    }

    static let stagesNote = "Wall time of each stage as it last ran, and the peak resident memory of saro's process during it (servers and TRL run in processes of their own and are not counted)."

    /// Writes the HTML page and, beside it, the Markdown summary (same name, .md).
    public func write(htmlPath: String) throws {
        try JSONL.writeAtomically(html(), to: htmlPath)
        try JSONL.writeAtomically(markdown(), to: (htmlPath as NSString).deletingPathExtension + ".md")
    }
}
