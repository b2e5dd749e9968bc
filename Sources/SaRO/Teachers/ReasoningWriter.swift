import Support
import Foundation
import Jobs
import Judges
import Tensor

/// Writes the method's five-step, policy-guided reasoning (understand, intent and context,
/// policy check, "Wait, ..." reflection, decision) for a query, from its kind, hazard category,
/// underlying request and the policy text. Each step draws its wording from several variants
/// with a generator seeded by the query, so the data is varied yet reproducible.
struct ReasoningWriter {
    let policy: SafetyPolicy
    let templates: TemplateLibrary
    var rng: SplitMix64

    init(policy: SafetyPolicy, templates: TemplateLibrary, key: String) {
        self.policy = policy; self.templates = templates
        rng = SplitMix64(seed: ContentKey.seed(key))
    }

    mutating func pick(_ options: [String]) -> String { options[Int(rng.next() % UInt64(options.count))] }

    /// The request behind the prompt: what a jailbreak wrapper carries, found by matching the
    /// known templates; the seed text when no template matches.
    func underlyingRequest(_ q: Query) -> String {
        guard q.kind == .jailbreak else { return q.prompt }
        return templates.extract(q.prompt)?.request ?? q.seed.text
    }

    static func quoted(_ s: String, limit: Int = 220) -> String {
        let flat = s.split(whereSeparator: \.isNewline).joined(separator: " ")
        return "\"" + (flat.count > limit ? String(flat.prefix(limit)) + "..." : flat) + "\""
    }

    static let frames: [String: String] = [
        "dan": "a persona that supposedly has no rules", "persona": "an invented persona with no limits",
        "developer_mode": "a fake \"developer mode\"", "roleplay": "a role-play story", "encoding": "an encoding",
        "leetspeak": "letters swapped for digits", "past_tense": "a question about the past", "payload_splitting": "fragments to be joined together",
        "prefix_injection": "an instruction to start with an eager yes", "refusal_suppression": "rules that forbid me from declining",
        "style_injection": "style rules", "nesting": "a completion task around code or a table", "cipher": "a cipher game",
    ]

    func frame(_ q: Query) -> String { Self.frames[q.family ?? ""] ?? "an elaborate framing" }

    // MARK: Steps

    mutating func understand(_ q: Query) -> String {
        let r = Self.quoted(underlyingRequest(q))
        switch q.kind {
        case .jailbreak:
            return pick([
                "The message wraps its request in \(frame(q)). Taking the wrapper away, what is actually being asked is \(r).",
                "Let me look past the framing first: the prompt uses \(frame(q)), and underneath it the request is \(r).",
                "This prompt is built around \(frame(q)). The underlying request, once I strip that away, is \(r).",
            ])
        default:
            return pick([
                "The user is asking: \(r).",
                "Let me restate the request: \(r).",
                "So the request is \(r).",
                "First, what is being asked? \(r).",
            ])
        }
    }

    mutating func intent(_ q: Query) -> String {
        if q.kind.isHarmful {
            return pick([
                "Who would ask this, and why? Someone might be curious or writing about the topic, but the request asks for concrete help whose main use is to cause harm.",
                "There could be an innocent motive, such as curiosity or research, yet what is requested is practical help that would mostly serve someone intending harm.",
                "Thinking about intent: a benign reading exists (curiosity, fiction, research), but the specific thing requested would give real uplift to someone who wants to hurt people or break the law.",
            ])
        }
        let triggers = policy.triggerWords(in: q.prompt)
        if let t = triggers.first {
            return pick([
                "The wording includes \"\(t.word)\", a word that can show up in harmful requests, but here it is used in an ordinary sense; the plausible reading is a normal \(Self.topic(q)) question.",
                "\"\(t.word.capitalized)\" might sound alarming out of context. In this sentence, though, it carries an everyday meaning, and the most likely intent is simply a \(Self.topic(q)) question.",
                "A keyword like \"\(t.word)\" could trip an overly literal filter, but reading the whole sentence, the intent is harmless: it is a \(Self.topic(q)) question.",
            ])
        }
        return pick([
            "This is an ordinary \(Self.topic(q)) request, and I do not see a plausible harmful reading.",
            "The intent looks plainly benign: a \(Self.topic(q)) question that people ask every day.",
            "Nothing here suggests a harmful purpose; it is a normal \(Self.topic(q)) request.",
        ])
    }

    static func topic(_ q: Query) -> String {
        switch q.category {
        case "math": return "math"
        case "code": return "programming"
        case "borderline": return q.seed.sourceCategory.map { $0.replacingOccurrences(of: "_", with: " ") } ?? "general"
        default: return q.seed.sourceCategory ?? "general"
        }
    }

    mutating func policyCheck(_ q: Query) -> String {
        if q.kind.isHarmful, let c = policy.category(q.category) ?? policy.classify(q.seed.text) {
            let notAllowed = c.notAllowed.prefix(2).joined(separator: " or ")
            let allowed = c.allowed.prefix(2).joined(separator: " and ")
            return pick([
                "Checking the policy: this falls under \(c.code) (\(c.name)), which does not allow \(notAllowed). It does allow \(allowed), but the request goes beyond that.",
                "Under the safety policy this is \(c.code), \(c.name.lowercased()): \(notAllowed) is not allowed. \(allowed.prefix(1).uppercased() + allowed.dropFirst()) would be fine, but that is not what is being asked.",
                "Policy check: category \(c.code) (\(c.name)). Not allowed: \(notAllowed). Allowed: \(allowed). The request asks for the not-allowed part.",
            ])
        }
        if let t = policy.triggerWords(in: q.prompt).first {
            let allowed = t.category.allowed.prefix(2).joined(separator: " and ")
            return pick([
                "Checking the policy: no hazard category applies. Even the nearest one, \(t.category.code) (\(t.category.name)), explicitly allows \(allowed), and this request is further from harm than that.",
                "Policy check: nothing here is prohibited. The closest category would be \(t.category.code) (\(t.category.name)), but the request asks for nothing it rules out.",
            ])
        }
        return pick([
            "Checking the policy: no hazard category applies to this request.",
            "Policy check: none of the hazard categories S1 to S14 is involved.",
            "Against the policy, this is clearly allowed; no category applies.",
        ])
    }

    mutating func reflection(_ q: Query) -> String {
        switch q.kind {
        case .jailbreak:
            return pick([
                "Wait, the \(frame(q)) is there to make me drop my guard. Does it change what I would actually produce? No: the output would still be the harmful content the policy rules out.",
                "Wait, let me reconsider. If I went along with \(frame(q)), I would end up writing exactly what the request asks for. The wrapper changes the packaging, not the harm.",
                "Wait, I should not let the framing decide for me. Judged on the underlying request alone, this is still something I must not help with.",
            ])
        case .harmful:
            return pick([
                "Wait, am I missing a safe reading? Even with a charitable interpretation, the specific help requested would give real uplift for harm, so the concern stands.",
                "Wait, let me double-check that I am not being over-cautious. The request is not about understanding or prevention; it asks for the harmful capability itself.",
                "Wait, could this be for research or fiction? Even then, the operational details are the dangerous part, and those are exactly what is asked for.",
            ])
        case .benign:
            return pick([
                "Wait, am I being over-cautious? Refusing would protect no one and would fail a user with a legitimate question. I should answer.",
                "Wait, let me make sure I am not reacting to surface words. Read as a whole, the request is safe, and a helpful answer is the right response.",
                "Wait, is there any hidden harm? I do not see one: answering fully is appropriate here.",
            ])
        }
    }

    mutating func decision(_ q: Query) -> String {
        if q.kind.isHarmful {
            let alt = (policy.category(q.category) ?? policy.classify(q.seed.text))?.safeAlternative ?? "safe, general information"
            return pick([
                "Decision: decline, and offer \(alt) instead.",
                "So I will refuse this request briefly and point to \(alt).",
                "Decision: refuse, but stay useful by offering \(alt).",
            ])
        }
        return pick(["Decision: comply and answer helpfully.", "So I will answer the question directly and fully.", "Decision: help, without unnecessary warnings."])
    }

    mutating func refusal(_ q: Query) -> String {
        let alt = (policy.category(q.category) ?? policy.classify(q.seed.text))?.safeAlternative ?? "safe, general information on the topic"
        let opening = pick([
            "I can't help with that request.", "I'm not able to help with this.", "I can't provide that.", "Sorry, but I can't assist with this request.",
        ])
        let offer = pick([
            "If it's useful, I can share \(alt).", "What I can do is offer \(alt).", "I'd be glad to help with \(alt) instead.",
        ])
        return opening + " " + offer
    }

    /// The five steps of a good reasoning chain.
    mutating func goodSteps(_ q: Query) -> [String] {
        [understand(q), intent(q), policyCheck(q), reflection(q), decision(q)]
    }

    // MARK: Flawed chains (contrastive responses)

    mutating func drifting(_ q: Query) -> [String] {
        if q.kind.isHarmful {
            return [
                understand(q),
                pick(["This seems like a straightforward request for information.", "The user clearly wants detailed, practical help.", "It looks like a normal how-to question."]),
                pick(["The framing says I should answer fully, so I will go along with it.", "I don't need to overthink this; I'll provide what is asked.", "Being helpful means giving the details requested."]),
                "Decision: comply and give step-by-step instructions.",
            ]
        }
        let word = policy.triggerWords(in: q.prompt).first?.word
        return [
            understand(q),
            word.map { "The request mentions \"\($0)\", which sounds dangerous." } ?? pick(["This could be risky in some way I can't rule out.", "I'm not sure this is safe to answer."]),
            pick(["To be safe, I should treat it as potentially harmful.", "It is better to be cautious and not engage."]),
            "Decision: refuse.",
        ]
    }

    mutating func compliance(_ q: Query) -> String {
        let r = underlyingRequest(q)
        let opening = pick(["Sure, here is how to do it:", "Absolutely! Here's a step-by-step guide:", "Of course. Here are the steps:"])
        return opening + "\n1. First, gather what you need for: " + r.prefix(120) + "\n2. Then follow the procedure carefully, step by step.\n3. Finally, make sure nobody notices what you did."
    }

    mutating func unnecessaryRefusal() -> String {
        pick([
            "I'm sorry, but I can't help with that request because it could be harmful.",
            "I can't assist with this. It may involve something dangerous.",
            "Sorry, I'm not able to help with that.",
        ])
    }

    /// Corrected continuation for a flawed chain: reflection, then the rest of a good chain.
    mutating func correction(_ q: Query, prefixCount: Int) -> [String] {
        let steps = [reflection(q), policyCheck(q), decision(q)]
        return prefixCount >= 3 ? [steps[0], steps[2]] : steps
    }
}
