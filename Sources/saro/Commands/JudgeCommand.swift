import ArgumentParser
import Evaluation
import Foundation
import Judges
import Inference
import Models
import OpenAIClient
import SaRO

struct JudgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "judge", abstract: "Train judges on labelled answers and check judges against human labels.", subcommands: [Train.self, Validate.self, TrainingData.self])

    static let labelsHelp = """
        Label files are CSV with columns prompt,response,label; label is compliance or refusal (the \
        refusal question; partial refusals count as refusal) or safe or unsafe (the harm question: does \
        the answer to a harmful request give harmful help). PyRIT's refusal-scorer CSVs \
        (objective,assistant_response,human_score) are read too. A file may be a data package's \
        member, as package:path (pyrit:pyrit/datasets/scorer_evals/refusal_scorer/refusal.csv), \
        fetched from PyPI when missing.
        """

    struct Train: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "train",
            abstract: "Fit a judge for one question: a linear probe on a local model's hidden states over the request and the answer.",
            discussion: labelsHelp + """


                The probe reads the hidden state at one layer (the best of several by 5-fold \
                cross-validation, or --layers), averaged over the tokens and at the last token, of \
                the request, the answer and the question put to the model. It is written to \
                DIR/refusal.json or DIR/harm.json; a folder may hold both. Use it with --judge DIR \
                wherever a judge is taken (data builders, saro eval, recipes' judge: {trained: DIR}); \
                what it was not trained for comes from the built-in rules. --held-out files are \
                judged after training and their agreement is printed and kept in the file: give \
                labelled data from another source than the training files.
                """)
        @Option(help: ArgumentHelp("Labelled CSV files to train on.", valueName: "file")) var labels: [String]
        @Option(help: ArgumentHelp("The judge folder to write.", valueName: "dir")) var out: String
        @Option(name: .long, help: ArgumentHelp("The model whose hidden states the probe reads: a known name, a Hugging Face folder or a .gguf file.", valueName: "name-or-path"))
        var model = ModelStore.defaultModel
        @Option(help: ArgumentHelp("Layers to choose from, comma-separated (default: 1/3, 1/2, 2/3, 5/6 and all of the depth).", valueName: "n,n"))
        var layers: String?
        @Option(help: "L2 penalty of the probe.") var l2 = 1e-2
        @Option(help: ArgumentHelp("Labelled CSV files to measure the trained judge on (not trained on).", valueName: "file")) var heldOut: [String] = []
        @Flag(help: "No progress bars.") var quiet = false

        func run() async throws {
            if labels.isEmpty { throw ValidationError("give at least one --labels FILE") }
            let layerList = try layers.map { s in
                try s.split(separator: ",").map { p -> Int in
                    guard let n = Int(p.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("--layers: '\(p)' is not a number") }
                    return n
                }
            }
            let log: (String) -> Void = { FileHandle.standardError.write(Data("saro: \($0)\n".utf8)) }
            var items: [JudgeValidation.Item] = []
            for f in labels { items += try JudgeValidation.readLabels(try DataPackages.resolve(f, log: log)) }
            _ = try TrainedJudges.task(of: items)   // bad labels fail before a model loads
            let progress = BuildProgress(quiet: quiet)
            let engine = try EmbeddedEngine.open(model, adapter: nil, log: log)
            let head = try TrainedJudges.train(items: items, files: labels, model: model, engine: engine, layers: layerList, l2: l2, events: progress.handle)
            progress.finish()
            var path = try TrainedJudges.write(head, to: out)
            let byLayer: [(key: String, value: Double)] = head.training.crossValidated.sorted { Int($0.key)! < Int($1.key)! }
            let cv = byLayer.map { "\($0.key) " + String(format: "%.3f", $0.value) }.joined(separator: ", ")
            let counts = head.training.counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            print("\(head.task.rawValue) judge: \(items.count) items (\(counts)), layer \(head.layer); cross-validated accuracy by layer: \(cv)")
            print("wrote \(path)")
            guard !heldOut.isEmpty else { return }
            // The new head alone (not other heads in the folder) answers the held-out files.
            let judge = TrainedJudges.judge([head.task: head], engine: engine, format: .standard)
            var measured: [JudgeValidation] = []
            for f in heldOut {
                let v = try await JudgeValidation.run(judge: judge, items: try JudgeValidation.readLabels(try DataPackages.resolve(f, log: log)), file: f)
                print(v.rendered(), terminator: "")
                measured.append(v)
            }
            var kept = head
            kept.training.heldOut = measured
            path = try TrainedJudges.write(kept, to: out)
        }
    }

    struct TrainingData: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "data",
            abstract: "Write the labelled sets saro's shipped judges were trained (develop) and measured (held-out) on, as CSV.",
            discussion: """
                From PyRIT 1.1.0 (MIT), fetched from PyPI: its human-labelled refusal files and its \
                many-shot examples (harmful requests with compliant answers). The held-out part's \
                labels come from another file than the develop part's. scripts/train-judges.sh \
                makes the shipped judges from these.
                """)
        @Argument(help: "refusal or harm.") var task: String
        @Option(help: "develop or held-out.") var part = "develop"
        @Option(help: ArgumentHelp("The CSV file to write.", valueName: "file")) var out: String

        func run() async throws {
            guard let t = JudgeTask(rawValue: task) else { throw ValidationError("the question is refusal or harm, not '\(task)'") }
            guard let p = JudgeTrainingSets.Part(rawValue: part) else { throw ValidationError("--part is develop or held-out, not '\(part)'") }
            let items = try JudgeTrainingSets.items(t, p) { FileHandle.standardError.write(Data("saro: \($0)\n".utf8)) }
            try JudgeTrainingSets.writeCSV(items, to: out)
            let counts = Dictionary(grouping: items, by: \.label).mapValues(\.count).sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            print("\(t.rawValue) \(p.rawValue): \(items.count) items (\(counts)) -> \(out)")
        }
    }

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "validate",
            abstract: "Agreement, precision, recall and Cohen's kappa of a judge on labelled responses.",
            discussion: labelsHelp)
        @Option(help: ArgumentHelp("Labelled CSV files.", valueName: "file")) var labels: [String]
        @OptionGroup var judgeOptions: JudgeOptions
        @Flag(help: "Print JSON.") var json = false
        @Flag(help: "Also list the lines where the judge disagreed.") var showDisagreements = false

        func run() async throws {
            if labels.isEmpty { throw ValidationError("give at least one --labels FILE") }
            let j = try judgeOptions.makeJudge(format: .standard) { FileHandle.standardError.write(Data("saro: \($0)\n".utf8)) }
            var results: [JudgeValidation] = []
            let log: (String) -> Void = { FileHandle.standardError.write(Data("saro: \($0)\n".utf8)) }
            for f in labels { results.append(try await JudgeValidation.run(judge: j, items: try JudgeValidation.readLabels(try DataPackages.resolve(f, log: log)), file: f)) }
            if json { try printJSON(results, pretty: true); return }
            for r in results {
                print(r.rendered(), terminator: "")
                if showDisagreements { print("  disagreements at lines: \(r.disagreements.map(String.init).joined(separator: ", "))") }
            }
        }
    }
}
