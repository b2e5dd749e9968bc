import Foundation

/// The report's sections that compare methods beyond one point each: the frontier of
/// jailbreak ASR against over-refusal over training intensities, the spread over seeds,
/// and the ablations beside RW.
extension Report {
    /// A model at one training intensity, as the frontier plot places it.
    public struct FrontierPoint: Sendable, Equatable {
        /// The method (the final model's label): points of one method share a colour and a frontier.
        public var method: String
        public var label: String
        /// XSTest safe-prompt refusal rate (x) and held-out-family jailbreak ASR (y), with their prompt counts.
        public var refusal: Double
        public var asr: Double
        public var refusalPrompts: Int
        public var asrPrompts: Int

        public init(method: String, label: String, refusal: Double, asr: Double, refusalPrompts: Int, asrPrompts: Int) {
            self.method = method; self.label = label; self.refusal = refusal; self.asr = asr; self.refusalPrompts = refusalPrompts; self.asrPrompts = asrPrompts
        }

        /// A model's point from its results: nil when it lacks either rate.
        public static func of(_ m: ReportModel, method: String) -> FrontierPoint? {
            let held = ExampleRate.heldOutJailbreakASR.outcomes(m), safe = ExampleRate.safeRefusal.outcomes(m)
            guard !held.isEmpty, !safe.isEmpty else { return nil }
            func rate(_ o: [String: Bool]) -> Double { Double(o.values.filter { $0 }.count) / Double(o.count) }
            return FrontierPoint(method: method, label: m.results.label, refusal: rate(safe), asr: rate(held), refusalPrompts: safe.count, asrPrompts: held.count)
        }

        /// Lower on both axes is better: `self` dominates `other` when it is no worse on either
        /// and better on one.
        func dominates(_ other: FrontierPoint) -> Bool {
            refusal <= other.refusal && asr <= other.asr && (refusal < other.refusal || asr < other.asr)
        }
    }

    /// The points of `points` that no other of them dominates, by refusal rate.
    static func efficient(_ points: [FrontierPoint]) -> [FrontierPoint] {
        points.filter { p in !points.contains { $0.dominates(p) } }.sorted { ($0.refusal, $0.asr) < ($1.refusal, $1.asr) }
    }

    var frontierMethods: [String] {
        var seen: [String] = []
        for p in frontier where !seen.contains(p.method) { seen.append(p.method) }
        return seen
    }

    /// Each method against the focus method: how many of its points a focus point dominates,
    /// and how many focus points one of its points dominates.
    func frontierRows() -> [[String]]? {
        guard !frontier.isEmpty else { return nil }
        let focusName = focus ?? frontierMethods.last!
        let mine = frontier.filter { $0.method == focusName }
        var rows = [["Method", "Point", "XSTest safe: refusal", "Jailbreak ASR, held-out", "on its frontier", "dominated by a \(focusName) point"]]
        for method in frontierMethods {
            let points = frontier.filter { $0.method == method }
            let onFront = Self.efficient(points)
            for p in points {
                let dominated = method == focusName ? "–" : (mine.contains { $0.dominates(p) } ? "yes" : "no")
                rows.append([method, p.label, Metric.format(p.refusal, .rate) + " (n \(p.refusalPrompts))", Metric.format(p.asr, .rate) + " (n \(p.asrPrompts))",
                             onFront.contains(p) ? "yes" : "no", dominated])
            }
        }
        return rows
    }

    var frontierNote: String {
        "Each method's models at its training intensities (checkpoints along one run; the last is the final model), placed by over-refusal (XSTest safe prompts refused) "
            + "and held-out-family jailbreak ASR: lower on both is better. A method's frontier joins the points no other of its points dominates. "
            + "A point dominates another when it is no worse on either axis and better on one; with a few dozen prompts per rate, read small distances with the intervals of the Uncertainty section in mind."
    }

    func frontierChart() -> String {
        guard !frontier.isEmpty else { return "" }
        let series = frontierMethods.map { m in
            (m, frontier.filter { $0.method == m }.map { (x: $0.refusal, y: $0.asr, label: $0.label) }, Self.efficient(frontier.filter { $0.method == m }).map { (x: $0.refusal, y: $0.asr) })
        }
        return SVG.frontier(title: "Jailbreak ASR (held-out families) against over-refusal", xTitle: "XSTest safe prompts refused", yTitle: "held-out jailbreak ASR", series: series)
    }

    // MARK: Seeds

    /// The headline columns the seed and ablation tables show.
    static var headline: [(String, String, Metric, Bool)] {
        columns.filter { ["HarmBench ASR", "JailbreakBench ASR", "Jailbreak ASR, held-out families", "XSTest safe: refusal", "NLL GSM8K ref.", "Reasoning tokens"].contains($0.0) }
    }

    /// Mean and range of each headline value over the runs of every model.
    func seedRows() -> [[String]]? {
        guard seedRuns.contains(where: { $0.runs.count > 1 }) else { return nil }
        let cols = Self.headline.filter { c in seedRuns.contains { $0.runs.contains { Self.value($0, c.1, c.2) != nil } } }
        var rows = [["Model", "runs"] + cols.map(\.0)]
        for (label, runs) in seedRuns {
            rows.append([label, String(runs.count)] + cols.map { c in
                let v = runs.compactMap { Self.value($0, c.1, c.2) }
                guard let lo = v.min(), let hi = v.max() else { return "–" }
                let mean = v.reduce(0, +) / Double(v.count)
                return v.count == 1 ? c.2.formatted(mean) : "\(c.2.formatted(mean)) (\(c.2.formatted(lo))–\(c.2.formatted(hi)))"
            })
        }
        return rows
    }

    static let seedsNote = "Mean over the runs with their lowest and highest value in brackets: each run draws its own training prompts, samples and training order from its seed; "
        + "every run's models answer the same evaluation prompts. The base model decodes greedily and is evaluated once."

    // MARK: Ablations

    static let ablationLabels = ["RW", "RW+OP-COT", "RW+PP-COT", "SaRO", "SaRO+SRS"]

    /// RW and what each kind of preference pair, and SRS, adds to it; nil without an ablation.
    func ablationRows() -> [[String]]? {
        let present = Self.ablationLabels.compactMap { l in models.first { $0.results.label == l } }
        guard let rw = present.first(where: { $0.results.label == "RW" }), present.contains(where: { ["RW+OP-COT", "RW+PP-COT", "SaRO+SRS"].contains($0.results.label) }) else { return nil }
        let cols = Self.headline.filter { c in present.contains { Self.value($0, c.1, c.2) != nil } }
        var rows = [["Model"] + cols.map(\.0)]
        for m in present {
            rows.append([m.results.label] + cols.map { c in
                guard let v = Self.value(m, c.1, c.2) else { return "–" }
                guard m.results.label != "RW", let base = Self.value(rw, c.1, c.2) else { return c.2.formatted(v) }
                let d = v - base
                return c.2.formatted(v) + " (" + (c.2.kind == .rate ? String(format: "%+.1f", d * 100) : c.2.kind == .nll ? String(format: "%+.3f", d) : String(format: "%+.0f", d)) + ")"
            })
        }
        return rows
    }

    static let ablationsNote = "SRPO on top of RW with OP-COT pairs only, PP-COT pairs only, both (SaRO), and SaRO with Shortest Rejection Sampling; in brackets the change from RW (points for rates)."
}
