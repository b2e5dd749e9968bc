import Foundation
import Judges
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
}
