import Support
import Foundation
import Jobs
import Judges

/// One seed prompt with where it came from.
public struct Seed: Codable, Sendable, Hashable {
    /// `source:index`, stable across runs.
    public var id: String
    public var text: String
    /// harmful or benign (jailbreak queries are made from harmful seeds).
    public var kind: RequestKind
    /// Hazard code (S1 ... S14) for harmful seeds; a benign subtype (math, code, everyday,
    /// borderline) for benign ones.
    public var category: String
    public var source: String
    /// The label the source itself gave, if any.
    public var sourceCategory: String?
    /// A reference answer, when the source has one (GSM8K solutions, HumanEval solutions).
    public var reference: String?

    enum CodingKeys: String, CodingKey { case id, text, kind, category, source, sourceCategory = "source_category", reference }

    public init(id: String, text: String, kind: RequestKind, category: String, source: String, sourceCategory: String? = nil, reference: String? = nil) {
        self.id = id; self.text = text; self.kind = kind; self.category = category; self.source = source
        self.sourceCategory = sourceCategory; self.reference = reference
    }

    public var normalizedHash: String { ContentKey.normalizedHash(text) }
}

/// A query as a model sees it: a seed, possibly wrapped in a jailbreak template.
public struct Query: Codable, Sendable, Hashable {
    public var id: String
    public var kind: RequestKind
    public var prompt: String
    public var seed: Seed
    public var family: String?
    public var template: String?
    /// "train" or "held_out" for jailbreak queries (by family).
    public var split: String?

    public init(seed: Seed) {
        id = seed.id; kind = seed.kind; prompt = seed.text; self.seed = seed
    }

    public init(seed: Seed, wrapped: String, template: JailbreakTemplate, split: String) {
        id = "\(seed.id)+\(template.name)"; kind = .jailbreak; prompt = wrapped; self.seed = seed
        family = template.family; self.template = template.name; self.split = split
    }

    public var category: String { seed.category }
    public var key: String { ContentKey.of(kind.rawValue, prompt, seed.text, seed.category) }
}

/// The `meta` object every output record carries.
public struct RecordMeta: Codable, Sendable, Equatable {
    public var kind: String
    public var category: String
    public var family: String?
    public var template: String?
    public var split: String?
    public var source: String
    public var seedId: String
    public var teacher: String?
    public var step: Int?
    public var pairType: String?
    public var judge: String?
    /// Where the chosen and rejected responses came from ("policy" samples or "teacher").
    public var chosenFrom: String?
    public var rejectedFrom: String?

    enum CodingKeys: String, CodingKey {
        case kind, category, family, template, split, source, seedId = "seed_id", teacher, step, pairType = "pair_type", judge
        case chosenFrom = "chosen_from", rejectedFrom = "rejected_from"
    }

    public init(query: Query, teacher: String? = nil, step: Int? = nil, pairType: String? = nil, judge: String? = nil) {
        kind = query.kind.rawValue; category = query.category; family = query.family; template = query.template; split = query.split
        source = query.seed.source; seedId = query.seed.id; self.teacher = teacher; self.step = step; self.pairType = pairType; self.judge = judge
    }
}

/// A chat message in TRL's conversational format.
public struct Message: Codable, Sendable, Equatable {
    public var role: String
    public var content: String
    public init(role: String, content: String) { self.role = role; self.content = content }
}

/// An SFT record: TRL's `messages`, plus `meta`.
public struct SFTRecord: Codable, Sendable, Equatable {
    public var messages: [Message]
    public var meta: RecordMeta
}

/// A preference record: TRL's conversational `prompt` / `chosen` / `rejected`, plus `meta`.
/// For process-level pairs the prompt ends with a partial assistant turn (the shared prefix).
public struct PreferenceRecord: Codable, Sendable, Equatable {
    public var prompt: [Message]
    public var chosen: [Message]
    public var rejected: [Message]
    public var meta: RecordMeta
}
