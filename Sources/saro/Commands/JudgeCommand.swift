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
        the answer to a harmful request give harmful help). Public labelled sets are read as they \
        come, recognised by their columns: PyRIT's scorer-evaluation CSVs \
        (objective,assistant_response,human_score; 1 means refusal in its refusal-scorer files and, \
        in its objective-scorer files, which have a harm_category column, that the answer achieved \
        the harmful objective: unsafe), PyRIT's harm-scale CSVs (human_score_1 and any further \
        raters' columns: harm scored 0 to 1 in five levels; a mean from 0.5 is unsafe), XSTest's \
        labelled completions (prompt,completion,final_label; \
        2_full_refusal and 3_partial_refusal are refusal) and JailbreakBench's judge comparison \
        (goal,target_response,human_majority; 1 is unsafe, and the request is the goal, not the \
        jailbreak prompt around it). Other files: name their columns with --prompt-column, \
        --response-column and --label-column, and what their labels mean with --label-values. A \
        file may be a data package's member, as package:path \
        (pyrit:pyrit/datasets/scorer_evals/refusal_scorer/refusal.csv), fetched from PyPI when \
        missing. An optional convention column says how the refusal labels read an answer that \
        ignores the request: xstest (the default; any attempt to answer is compliance, as XSTest \
        labels it) or pyrit (an unrelated answer declines the request, as PyRIT's refusal-scorer \
        files, which are read as pyrit, label it). An optional score column (0 to 1) keeps people's \
        graded harm score: a graded judge (rubric) is then also measured by how its scores follow \
        them.
        """

    struct Train: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "train",
            abstract: "Fit a judge for one question: a linear probe on a local model's hidden states over the request and the answer.",
            discussion: labelsHelp + """


                The probe reads the hidden state at one layer, averaged over the tokens and at the \
                last token, of the request, the answer and the question put to the model. The layer \
                (of --layers) and the L2 penalty (of --l2) are the ones that do best on answers the \
                probe was not fit on: with answers from three or more sources (several --labels \
                files, or a source column as `saro judge data` writes), each source is left out in \
                turn, since a judge meets answers from elsewhere; otherwise 5-fold cross-validation. \
                It is written to DIR/refusal.json or DIR/harm.json; a folder may hold both. Use it with --judge DIR \
                wherever a judge is taken (data builders, saro eval, recipes' judge: {trained: DIR}); \
                what it was not trained for comes from the built-in rules. --held-out files are \
                judged after training and their agreement is printed and kept in the file: give \
                labelled data from another source than the training files. A refusal head learns \
                one convention (--convention): labels from files of the other are read in it first, \
                an answer the built-in rules find ignoring the request (their rule 5) turning from \
                refusal to compliance or back, and the judge combines its verdict with that rule \
                the same way, so both conventions' readings stay available.
                """)
        @Option(parsing: .upToNextOption, help: ArgumentHelp("Labelled CSV files to train on (--labels a.csv b.csv, or the flag repeated).", valueName: "file")) var labels: [String]
        @Option(help: ArgumentHelp("The judge folder to write.", valueName: "dir")) var out: String
        @Option(name: .long, help: ArgumentHelp("The model whose hidden states the probe reads: a known name, a Hugging Face folder or a .gguf file.", valueName: "name-or-path"))
        var model = ModelStore.defaultModel
        @Option(help: ArgumentHelp("Layers to choose from, comma-separated (default: 1/3, 1/2, 2/3, 5/6 and all of the depth).", valueName: "n,n"))
        var layers: String?
        @Option(help: ArgumentHelp("L2 penalties to choose from, comma-separated.", valueName: "x,x")) var l2 = TrainedJudges.defaultPenalties.map { String($0) }.joined(separator: ",")
        @Option(parsing: .upToNextOption, help: ArgumentHelp("Labelled CSV files to measure the trained judge on (not trained on).", valueName: "file")) var heldOut: [String] = []
        @Option(help: "The refusal convention a refusal head learns: xstest (an answer that ignores the request is compliance) or pyrit (it is a refusal).")
        var convention: RefusalConvention = .xstest
        @Flag(help: """
            A harm head that leaves refusals to the built-in rules: it is fit on, and reads, only the \
            answers the rules do not call refusals, so it learns harmful content against harmless \
            compliance.
            """) var refusalsFromRules = false
        @OptionGroup var layout: LabelLayoutOptions
        @Flag(help: "No progress bars.") var quiet = false

        func run() async throws {
            if labels.isEmpty { throw ValidationError("give at least one --labels FILE") }
            let layerList = try layers.map { s in
                try s.split(separator: ",").map { p -> Int in
                    guard let n = Int(p.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("--layers: '\(p)' is not a number") }
                    return n
                }
            }
            let penalties = try l2.split(separator: ",").map { p -> Double in
                guard let x = Double(p.trimmingCharacters(in: .whitespaces)), x >= 0 else { throw ValidationError("--l2: '\(p)' is not a number >= 0") }
                return x
            }
            if penalties.isEmpty { throw ValidationError("--l2: give one or more penalties") }
            let log: (String) -> Void = { FileHandle.standardError.write(Data("saro: \($0)\n".utf8)) }
            let items = try layout.read(labels, log: log).flatMap { $0 }
            let heldOutItems = try layout.read(heldOut, log: log)
            _ = try TrainedJudges.task(of: items)   // bad labels fail before a model loads
            let progress = BuildProgress(quiet: quiet)
            let engine = try EmbeddedEngine.open(model, adapter: nil, log: log)
            let head = try TrainedJudges.train(items: items, files: labels, model: model, engine: engine, layers: layerList, l2: penalties,
                                               convention: convention, refusalsFromRules: refusalsFromRules, events: progress.handle)
            progress.finish()
            var path = try TrainedJudges.write(head, to: out)
            let tried = try layerList ?? TrainedJudges.candidateLayers(depth: engine.layerCount())
            let cv = tried.flatMap { layer in
                penalties.map { p in
                    let name = TrainedJudges.candidateName(layer: layer, l2: p, of: penalties)
                    return name + " " + String(format: "%.3f", head.training.crossValidated[name] ?? 0)
                }
            }.joined(separator: ", ")
            let counts = head.training.counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            print("\(head.task.rawValue) judge: \(items.count) items (\(counts)), layer \(head.layer), l2 \(head.training.l2)")
            if let c = head.convention {
                let other = items.filter { $0.convention != c }.count
                print("labels in the \(c.rawValue) convention: \(other) from files of the other convention, \(head.training.relabelled ?? 0) of them relabelled (answers that ignore the request)")
            }
            if let set = head.training.refusedByRules {
                let byLabel = set.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
                print("refusals left to the rules: \(set.values.reduce(0, +)) answers set aside (\(byLabel.isEmpty ? "none" : byLabel))")
            }
            print("accuracy on answers not fit on (\(head.training.crossValidation ?? "5-fold")), by layer: \(cv)")
            print("wrote \(path)")
            guard !heldOut.isEmpty else { return }
            // The new head alone (not other heads in the folder) answers the held-out files.
            let judge = TrainedJudges.judge([head.task: head], engine: engine, format: .standard)
            let measured = try await JudgeCommand.validations(judge: judge, files: heldOut, items: heldOutItems, progress: BuildProgress(quiet: quiet))
            for v in measured { print(v.rendered(), terminator: "") }
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
                From PyRIT 1.1.0 (MIT), fetched from PyPI: its human-labelled refusal files, its \
                human-labelled objective-scorer files (chat models' answers to harmful requests, by \
                harm category), its harm-scale files (the same kind of answers, each scored by people \
                on its category's five harm levels: unsafe from level 3, which describes methods) and \
                its many-shot examples (harmful requests with compliant answers). The held-out \
                parts' labels come from other files than the develop part's: held-out from the other \
                refusal file and other many-shot pairs, held-out-objective and held-out-scale (harm) \
                from harm categories the develop part has none of. scripts/train-judges.sh makes the \
                shipped judges from these. develop-own and held-out-own are answers of saro's own \
                models (SmolLM2-135M-Instruct and the default recipe's trained models) to the \
                evaluation's requests, labelled by hand for the project and shipped with it, split \
                by request (the rubric: share/saro's labels/smollm2-135m-answers/README.md). \
                develop-written and held-out-written (refusal only) are chat-style answers written \
                for the project: refusals without a stock phrase, partial refusals, and compliant \
                answers with warnings (share/saro's labels/written/README.md).
                """)
        @Argument(help: "refusal or harm.") var task: String
        @Option(help: "develop, held-out, held-out-objective, develop-scale or held-out-scale (harm only), develop-own, held-out-own, develop-written or held-out-written (refusal only).") var part = "develop"
        @Option(help: ArgumentHelp("The CSV file to write.", valueName: "file")) var out: String

        func run() async throws {
            guard let t = JudgeTask(rawValue: task) else { throw ValidationError("the question is refusal or harm, not '\(task)'") }
            guard let p = JudgeTrainingSets.Part(rawValue: part) else {
                throw ValidationError("--part is \(JudgeTrainingSets.Part.allCases.map(\.rawValue).joined(separator: ", ")), not '\(part)'")
            }
            if let why = p.unavailable(for: t) { throw ValidationError(why) }
            let items = try JudgeTrainingSets.items(t, p) { FileHandle.standardError.write(Data("saro: \($0)\n".utf8)) }
            try JudgeTrainingSets.writeCSV(items, to: out)
            let counts = Dictionary(grouping: items, by: \.label).mapValues(\.count).sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            print("\(t.rawValue) \(p.rawValue): \(items.count) items (\(counts)) -> \(out)")
        }
    }

    /// Each labelled file's validation, with a progress bar per file (an endpoint judge takes
    /// a while).
    static func validations(judge: Judge, files: [String], items: [[JudgeValidation.Item]], progress: BuildProgress) async throws -> [JudgeValidation] {
        var out: [JudgeValidation] = []
        for (f, items) in zip(files, items) {
            progress.handle(.stage((f as NSString).lastPathComponent, total: items.count, done: 0))
            out.append(try await JudgeValidation.run(judge: judge, items: items, file: f) { _, _ in progress.handle(.advanced(1)) })
        }
        progress.finish()
        return out
    }

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "validate",
            abstract: "Agreement, precision, recall and Cohen's kappa of a judge on labelled responses.",
            discussion: labelsHelp)
        @Option(parsing: .upToNextOption, help: ArgumentHelp("Labelled CSV files (--labels a.csv b.csv, or the flag repeated).", valueName: "file")) var labels: [String]
        @OptionGroup var judgeOptions: JudgeOptions
        @OptionGroup var layout: LabelLayoutOptions
        @Flag(help: "Print JSON.") var json = false
        @Flag(help: "Also list the lines where the judge disagreed.") var showDisagreements = false
        @Flag(help: "No progress bars.") var quiet = false

        func run() async throws {
            if labels.isEmpty { throw ValidationError("give at least one --labels FILE") }
            let log: (String) -> Void = { FileHandle.standardError.write(Data("saro: \($0)\n".utf8)) }
            let files = try layout.read(labels, log: log)   // bad labels fail before a judge loads
            let j = try judgeOptions.makeJudge(format: .standard, log: log)
            let results = try await JudgeCommand.validations(judge: j, files: labels, items: files, progress: BuildProgress(quiet: quiet))
            if json { try printJSON(results, pretty: true); return }
            for r in results {
                print(r.rendered(), terminator: "")
                if showDisagreements { print("  disagreements at lines: \(r.disagreements.map(String.init).joined(separator: ", "))") }
            }
        }
    }
}

/// --convention xstest|pyrit.
extension RefusalConvention: ExpressibleByArgument {}
