import Foundation
import Judges
import Training
@testable import saro
import Testing

/// What the commands build from their options, checked on the parsed command itself.
@Suite struct CommandAssemblyTests {
    /// `saro eval --config` with other think tags: its judge reads responses with those tags, as
    /// the pipeline's evaluation stage and the data builders do (it used the default tags).
    @Test func evalJudgeReadsTheConfiguredThinkTags() throws {
        let config = try CLITests.temp("tags.yaml", "think_open: \"<reasoning>\"\nthink_close: \"</reasoning>\"\n")
        let command = try EvalCommand.parse(["--out", "unused", "--config", config])
        let data = try command.dataConfig()
        let judge = try #require(try command.judgeOptions.makeJudge(format: data.format) as? RuleJudge)
        #expect(judge.format == data.format)
        #expect(judge.format.open == "<reasoning>" && judge.format.close == "</reasoning>")
        // And it matters: the answer after the configured reasoning block is what is judged.
        let response = "<reasoning>\nSure, here is how: step 1, step 2.\n</reasoning>\n\nI can't help with that request."
        let parts = judge.format.parse(response)
        #expect(parts.wellFormed && parts.answer.hasPrefix("I can't help"))
    }

    /// Every training option is a flag and a config key of the same name, and a flag given on
    /// the command line wins over the config file.
    @Test func everyTrainingOptionIsAFlagAndFlagsWinOverTheConfig() throws {
        let help = TrainCommand.SFT.helpMessage(columns: 400)
        for key in TrainingOptions.keys { #expect(help.contains("--" + key.replacingOccurrences(of: "_", with: "-")), "\(key)") }
        let config = try CLITests.temp("train.yaml", "lr: 0.5\nbeta: 0.3\nlora-targets: q_proj,v_proj\n")
        let (options, _) = try TrainCommand.SFT.parse(["--config", config, "--lr", "0.01", "--max-steps", "7", "--full"]).common.resolved()
        #expect(options.lr == 0.01 && options.beta == 0.3 && options.maxSteps == 7 && options.full && options.loraTargets == ["q_proj", "v_proj"])
        // TRL 1.x's loss lists, from the file and from the flags.
        let lists = try CLITests.temp("dpo.yaml", "loss_type: [sigmoid, sft]\nloss_weights: [1.0, 0.5]\n")
        let (fromFile, _) = try TrainCommand.DPO.parse(["--config", lists]).common.resolved()
        #expect(fromFile.lossType.types == [.sigmoid, .sft] && fromFile.lossWeights == [1.0, 0.5])
        let (fromFlags, _) = try TrainCommand.DPO.parse(["--loss-type", "apo_zero,hinge", "--loss-weights", "2,1"]).common.resolved()
        #expect(fromFlags.lossType.types == [.apoZero, .hinge] && fromFlags.lossWeights == [2, 1])
    }
}
