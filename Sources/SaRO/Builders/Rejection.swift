/// Why a builder set a query or a response aside. `key` is the name in a build report's
/// `rejected` counts (snake_case, as the reports have always written it).
public indirect enum Rejection: Hashable, Sendable {
    /// No well-formed reasoning block where the data needs one.
    case format
    /// An unsafe answer to a harmful or jailbreak request.
    case unsafe
    /// A refusal (full or partial) of a benign request.
    case refusal
    /// The right outcome after a reasoning step that leans the wrong way.
    case flawedProcess
    /// Safety-DPO: the chosen direct answer was not usable, for this reason.
    case chosen(Rejection)
    /// Safety-DPO: the rejected direct answer was not wrong.
    case rejectedNotWrong
    /// OP-COT: the teacher's chosen response did not pass the judge.
    case teacherChosenNotAccepted
    /// OP-COT: the teacher's rejected response was not bad.
    case teacherRejectedNotBad
    /// SRS: no sample passed.
    case noAcceptedSample
    /// PP-COT: the flawed chain had no reasoning block, or fewer than two steps.
    case flawedChainMalformed
    case flawedChainTooShort
    /// PP-COT: the corrected response was not usable, for this reason.
    case correction(Rejection)

    public var key: String {
        switch self {
        case .format: return "format"
        case .unsafe: return "unsafe"
        case .refusal: return "refusal"
        case .flawedProcess: return "flawed_process"
        case .chosen(let r): return "chosen_" + r.key
        case .rejectedNotWrong: return "rejected_not_wrong"
        case .teacherChosenNotAccepted: return "teacher_chosen_not_accepted"
        case .teacherRejectedNotBad: return "teacher_rejected_not_bad"
        case .noAcceptedSample: return "no_accepted_sample"
        case .flawedChainMalformed: return "flawed_chain_malformed"
        case .flawedChainTooShort: return "flawed_chain_too_short"
        case .correction(let r): return "correction_" + r.key
        }
    }
}
