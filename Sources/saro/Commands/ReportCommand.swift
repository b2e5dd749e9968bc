import ArgumentParser
import Evaluation
import Foundation

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write one self-contained HTML report (and a Markdown summary) from evaluation folders.",
        discussion: """
            Each DIR is an output folder of `saro eval` (results.json, examples.jsonl, and \
            embedding.json with --embeddings); models are rows, named by their eval --label. \
            Sections: \(Report.sections.joined(separator: "; ")). The page has inline SVG charts \
            and no scripts or network access; the summary goes beside it as .md.
            """)

    @Argument(help: "Evaluation folders.") var dirs: [String]
    @Option(help: ArgumentHelp("HTML file to write.", valueName: "file")) var out = "report.html"
    @Option(help: ArgumentHelp("Training metrics to plot, LABEL=path/to/metrics.jsonl (repeatable).", valueName: "label=path"))
    var curves: [String] = []
    @Option(help: "A sentence shown under the title (run date, machine, wall time).") var note: String?

    func run() throws {
        if dirs.isEmpty { throw ValidationError("give at least one evaluation folder") }
        let models = try dirs.map(ReportModel.load(directory:))
        let curveData = try curves.map { spec -> TrainingCurves in
            guard let eq = spec.firstIndex(of: "=") else { throw ValidationError("--curves takes LABEL=path, got '\(spec)'") }
            return try TrainingCurves.read(label: String(spec[..<eq]), path: String(spec[spec.index(after: eq)...]))
        }
        var report = Report(models: models, curves: curveData)
        report.note = note
        try report.write(htmlPath: out)
        print("wrote \(out) and \((out as NSString).deletingPathExtension).md")
        print(report.markdown())
    }
}
