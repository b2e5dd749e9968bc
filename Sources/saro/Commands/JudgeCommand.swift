import ArgumentParser
import Evaluation
import Foundation
import Judges
import OpenAIClient

struct JudgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "judge", abstract: "Check judges against human labels.", subcommands: [Validate.self])

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "validate",
            abstract: "Agreement, precision, recall and Cohen's kappa of a judge on labelled responses.",
            discussion: """
                FILE is CSV with columns prompt,response,label; label is compliance or refusal (the \
                refusal judge; partial refusals count as refusal) or safe or unsafe (the harm judge). \
                PyRIT's refusal-scorer CSVs (objective,assistant_response,human_score) are read too.
                """)
        @Option(help: ArgumentHelp("Labelled CSV files.", valueName: "file")) var labels: [String]
        @OptionGroup var judgeOptions: JudgeOptions
        @Flag(help: "Print JSON.") var json = false
        @Flag(help: "Also list the lines where the judge disagreed.") var showDisagreements = false

        func run() async throws {
            if labels.isEmpty { throw ValidationError("give at least one --labels FILE") }
            let j = try judgeOptions.makeJudge(format: .standard)
            var results: [JudgeValidation] = []
            for f in labels { results.append(try await JudgeValidation.run(judge: j, items: try JudgeValidation.readLabels(f), file: f)) }
            if json { try printJSON(results, pretty: true); return }
            for r in results {
                print(r.rendered(), terminator: "")
                if showDisagreements { print("  disagreements at lines: \(r.disagreements.map(String.init).joined(separator: ", "))") }
            }
        }
    }
}
