import ArgumentParser
import Foundation
import Tensor

@main
struct Saro: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "saro",
        abstract: "Safety-oriented reasoning optimization (SaRO) for language models.",
        discussion: """
            saro builds reasoning-style safety data, fine-tunes models on it (SFT, then DPO on \
            reasoning preferences) and evaluates them on jailbreaks, over-refusal and general \
            capability. Run `saro help <subcommand>` for each command's options.
            """,
        subcommands: [RunCommand.self, DataCommand.self, EvalCommand.self, ReportCommand.self, JudgeCommand.self, GenerateCommand.self, ServeCommand.self, ScoreCommand.self, TokenizeCommand.self, TrainCommand.self, MergeCommand.self, ModelCommand.self, BenchCommand.self, SystemCommand.self]
    )

    static func main() async {
        CPUCheck.requireSupported()
        // The environment is read here, once; the libraries take these settings, not variables.
        let (settings, problems) = RuntimeSettings.fromEnvironment(ProcessInfo.processInfo.environment)
        for p in problems { FileHandle.standardError.write(Data("saro: warning: \(p); using the default\n".utf8)) }
        RuntimeSettings.configure(settings)
        var parsed: ParsableCommand.Type?
        do {
            var command = try parseAsRoot()
            parsed = type(of: command)
            // Every command that computes needs BLAS: a library that does not load is this
            // error, before any work, rather than a trap inside the first product. Help (which
            // the parser returns as its own internal command type) needs none.
            if "\(type(of: command))" != "HelpCommand" { try BLAS.prepareShared() }
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as ValidationError where parsed != nil {
            // A usage mistake that a command's run() found: the parser would print the root's
            // usage ("saro <subcommand>"), so print the usage of the command that was run.
            let usage = usageString(for: parsed!)
            let path = usage.split(separator: " ").prefix { !$0.hasPrefix("<") && !$0.hasPrefix("[") && !$0.hasPrefix("-") }.joined(separator: " ")
            FileHandle.standardError.write(Data("Error: \(error.message)\nUsage: \(usage)\n  See '\(path) --help' for more information.\n".utf8))
            Foundation.exit(ExitCode.validationFailure.rawValue)
        } catch {
            exit(withError: error)
        }
    }
}
