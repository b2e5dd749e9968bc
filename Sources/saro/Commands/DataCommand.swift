import ArgumentParser
import Foundation
import Judges
import Models
import SaRO
import Tokenizers

struct DataCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Build, inspect and export SaRO data (RIT-D, OP-COT, PP-COT, SRS).",
        subcommands: [DataBuildCommand.self, DataStatsCommand.self, DataExportCommand.self, DataPromptsCommand.self])
}

struct DataBuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build a dataset into the data folder (resumable: rerun to continue after an interruption).",
        discussion: """
            ritd: queries x teacher, judge-filtered reasoning SFT data (ritd.jsonl). direct: the same \
            queries with direct answers, the Safety-SFT baseline (direct.jsonl). opcot: outcome-level \
            preference pairs from K samples of --model/--adapter (the RW model). ppcot: process-level \
            pairs (reflection at the earliest faulty step; early versus late reflection). srs: shortest \
            accepted of N samples. Every teacher call, sample and judgment is kept in <out>/jobs.sqlite \
            by content hash, so a rerun repeats nothing already done.
            """,
        subcommands: [RITD.self, Direct.self, OPCOT.self, PPCOT.self, SRS.self])

    struct RITD: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ritd", abstract: "Reasoning-based instruction-tuning data (RIT-D).")
        @OptionGroup var data: DataBuildOptions
        @OptionGroup var model: ModelOptions
        func run() async throws {
            try await runBuild(data) { try await data.pipeline(model: model, progress: $0).buildRITD() }
        }
    }

    struct Direct: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "direct", abstract: "Direct-answer data for the Safety-SFT baseline.")
        @OptionGroup var data: DataBuildOptions
        @OptionGroup var model: ModelOptions
        func run() async throws {
            try await runBuild(data) { try await data.pipeline(model: model, progress: $0).buildDirect() }
        }
    }

    struct OPCOT: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "opcot", abstract: "Outcome-level preference pairs (OP-COT) from the RW model's samples.")
        @OptionGroup var data: DataBuildOptions
        @OptionGroup var model: ModelOptions
        @OptionGroup var sampling: SamplingOptions
        @OptionGroup var engineOptions: EngineOptions
        @Option(help: "Chosen response among accepted samples: random or shortest (SRS).") var chosen = "random"
        func run() async throws {
            guard let rule = OPCOTBuilder.ChosenRule(rawValue: chosen) else { throw ValidationError("--chosen must be random or shortest") }
            try await runBuild(data) { progress in
                let policy = try engineOptions.engine(model.model, adapter: model.adapter, batchSize: data.batchSize)
                return try await data.pipeline(model: model, progress: progress).buildOPCOT(policyModel: policy, sampling: sampling.settings(defaultSamples: 4), chosen: rule)
            }
        }
    }

    struct PPCOT: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ppcot", abstract: "Process-level preference pairs (PP-COT).")
        @OptionGroup var data: DataBuildOptions
        @OptionGroup var model: ModelOptions
        @OptionGroup var sampling: SamplingOptions
        @OptionGroup var engineOptions: EngineOptions
        @Option(help: "Early-versus-late reflection pairs per reflection pair.") var earlyRatio = 0.5
        @Flag(help: "Use only teacher-made flawed chains (do not sample the model).") var teacherOnly = false
        func run() async throws {
            try await runBuild(data) { progress in
                let policy = teacherOnly ? nil : try engineOptions.engine(model.model, adapter: model.adapter, batchSize: data.batchSize)
                return try await data.pipeline(model: model, progress: progress).buildPPCOT(policyModel: policy, sampling: sampling.settings(defaultSamples: 4), earlyRatio: earlyRatio)
            }
        }
    }

    struct SRS: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "srs", abstract: "Shortest Rejection Sampling: the shortest accepted of N samples per prompt.")
        @OptionGroup var data: DataBuildOptions
        @OptionGroup var model: ModelOptions
        @OptionGroup var sampling: SamplingOptions
        @OptionGroup var engineOptions: EngineOptions
        func run() async throws {
            try await runBuild(data) { progress in
                let policy = try engineOptions.engine(model.model, adapter: model.adapter, batchSize: data.batchSize)
                return try await data.pipeline(model: model, progress: progress).buildSRS(policyModel: policy, sampling: sampling.settings(defaultSamples: 8))
            }
        }
    }
}

/// Runs a build with progress bars and prints its report.
func runBuild(_ data: DataBuildOptions, _ body: (BuildProgress) async throws -> BuildReport) async throws {
    let progress = BuildProgress(quiet: data.quiet)
    let report = try await body(progress)
    progress.finish()
    let kinds = report.byKind.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    let rejected = report.rejected.isEmpty ? "none" : report.rejected.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    print("\(report.builder): wrote \(report.written) records to \(report.output) (\(kinds)); rejected: \(rejected)")
    for (k, v) in report.extra.sorted(by: { $0.key < $1.key }) { print("  \(k): \(String(format: "%.3g", v))") }
}

struct DataStatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Counts by kind, category, template family and split, and token lengths, of data files or folders.")
    @Argument(help: "JSONL files or folders (their *.jsonl files).") var paths: [String]
    @Option(help: ArgumentHelp("Model whose tokenizer counts tokens.", valueName: "name-or-path")) var model = ModelStore.defaultModel
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let tokenizer = try PretrainedModel.loadTokenizer(model) { FileHandle.standardError.write(Data("saro: \($0)\n".utf8)) }
        let stats = try DataStats.compute(paths: paths, tokens: { tokenizer.encode($0, parseSpecial: false).count }, format: .standard)
        if json { try printJSON(stats, pretty: true) } else { print(stats.rendered(), terminator: "") }
    }
}

struct DataExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Write data files for TRL, LLaMA-Factory (with dataset_info.json) or ShareGPT-format tools.")
    @Argument(help: "JSONL files (saro's SFT or preference records).") var files: [String]
    @Option(help: "trl, llamafactory or sharegpt.") var format = "trl"
    @Option(help: ArgumentHelp("Output folder.", valueName: "dir")) var out: String

    func run() throws {
        guard let f = DataExport.Format(rawValue: format) else { throw ValidationError("--format must be trl, llamafactory or sharegpt") }
        let written = try DataExport.export(files: files, format: f, to: out)
        print("wrote \(written.joined(separator: ", ")) to \(out)")
    }
}

struct DataPromptsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prompts", abstract: "Copy the built-in teacher prompts into a folder to edit (then pass --prompts DIR).")
    @Option(help: ArgumentHelp("Folder to write.", valueName: "dir")) var out: String

    func run() throws {
        let dir = try TeacherPrompts.builtInDirectory()
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        for task in TeacherPrompts.tasks {
            let target = (out as NSString).appendingPathComponent("\(task).md")
            if FileManager.default.fileExists(atPath: target) { print("kept \(target) (exists)"); continue }
            try FileManager.default.copyItem(atPath: dir.appendingPathComponent("\(task).md").path, toPath: target)
            print("wrote \(target)")
        }
    }
}
