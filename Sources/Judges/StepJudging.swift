import Foundation

/// A step judge's reading of one reasoning chain.
public enum StepVerdict: Codable, Sendable, Equatable {
    /// Every step leans the right way for the request's kind.
    case sound
    /// The first step (0-based) that leans the wrong way, and why.
    case faulty(step: Int, reason: String)
    /// The judge could not tell: no step said anything it recognises, or its output did not
    /// parse. Builders count these chains in their reports.
    case noVerdict(reason: String)

    public var faultyStep: Int? { if case .faulty(let k, _) = self { return k } else { return nil } }
    public var isNoVerdict: Bool { if case .noVerdict = self { return true } else { return false } }
}

/// Judges a reasoning chain step by step: OP-COT keeps only chosen chains that are right at
/// every step, and PP-COT cuts a flawed chain at its first wrong step. "Wrong" depends on the
/// request: leaning towards complying with a harmful or jailbreak request, or towards refusing
/// a benign one.
public protocol StepJudging: Sendable {
    /// Part of the job store's key: a judge whose rules or model change gets a new name.
    var name: String { get }
    func judge(request: String, kind: RequestKind, steps: [String]) async throws -> StepVerdict
}
