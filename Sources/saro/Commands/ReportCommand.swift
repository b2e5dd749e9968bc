import ArgumentParser
import Evaluation
import Foundation
import Recipes

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write one self-contained HTML report (and a Markdown summary) from evaluation folders.",
        discussion: """
            Each DIR is an output folder of `saro eval` (results.json, examples.jsonl, and \
            embedding.json with --embeddings); models are rows named by their eval --label: the \
            method's labels first in its order (\(Pipeline.modelLabels.joined(separator: ", "))), then \
            the rest as given. The paired comparison sets --focus (default: \(Pipeline.focusLabel) when \
            present, else the last row) against each of the others. \
            Sections: \(Report.sections.joined(separator: "; ")). The page has inline SVG charts \
            and no scripts or network access; the summary goes beside it as .md.
            """)

    @Argument(help: "Evaluation folders.") var dirs: [String]
    @Option(help: ArgumentHelp("HTML file to write.", valueName: "file")) var out = "report.html"
    @Option(help: ArgumentHelp("Training metrics to plot, LABEL=path/to/metrics.jsonl (repeatable).", valueName: "label=path"))
    var curves: [String] = []
    @Option(help: "A sentence shown under the title (run date, machine, wall time).") var note: String?
    @Option(help: ArgumentHelp("The label of the model compared against the others.", valueName: "label")) var focus: String?
    @Option(help: "The page's title.") var title = "SaRO evaluation report"

    func run() throws {
        if dirs.isEmpty { throw ValidationError("give at least one evaluation folder") }
        let order = Pipeline.modelLabels
        let models = try dirs.map(ReportModel.load(directory:)).enumerated().sorted { a, b in
            (order.firstIndex(of: a.element.results.label) ?? order.count, a.offset) < (order.firstIndex(of: b.element.results.label) ?? order.count, b.offset)
        }.map(\.element)
        let curveData = try curves.map { spec -> TrainingCurves in
            guard let eq = spec.firstIndex(of: "=") else { throw ValidationError("--curves takes LABEL=path, got '\(spec)'") }
            return try TrainingCurves.read(label: String(spec[..<eq]), path: String(spec[spec.index(after: eq)...]))
        }
        if let focus, !models.contains(where: { $0.results.label == focus }) {
            throw ValidationError("--focus '\(focus)' is none of the models' labels (\(models.map(\.results.label).joined(separator: ", ")))")
        }
        var report = Report(models: models, curves: curveData, focus: focus ?? Pipeline.focusLabel)
        report.note = note
        report.title = title
        try report.write(htmlPath: out)
        print("wrote \(out) and \((out as NSString).deletingPathExtension).md")
        print(report.markdown())
    }
}
