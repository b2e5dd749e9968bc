import Support
import Foundation
import Testing
import Jinja
@testable import Tokenizers

/// saro's Jinja interpreter and chat-template rendering against transformers' apply_chat_template
/// (Jinja2) and `tokenizers`, on templates written with the constructs of the Llama 3.1/3.2,
/// Qwen2.5, Mistral v0.3, Gemma 2 and reasoning families' templates and on the default GGUF's
/// own (scripts/golden/make_chat_template_golden.py).
@Suite struct ChatTemplateGoldenTests {
    /// Any JSON value, objects with their keys sorted (the golden script writes them sorted, so
    /// key order, which `tojson` shows, is the same on both sides).
    struct JSONValue: Decodable {
        let value: Value
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { value = .none } else if let b = try? c.decode(Bool.self) { value = .bool(b) } else if let i = try? c.decode(Int.self) {
                value = .int(i)
            } else if let d = try? c.decode(Double.self) { value = .double(d) } else if let s = try? c.decode(String.self) { value = .string(s) } else if let a = try? c.decode([JSONValue].self) {
                value = .array(a.map(\.value))
            } else {
                let o = try c.decode([String: JSONValue].self)
                value = .object(Value.Dictionary(o.keys.sorted().map { ($0, o[$0]!.value) }))
            }
        }
    }

    struct Case: Decodable {
        let template: String
        let messages: JSONValue
        let kwargs: [String: JSONValue]
        let text: String?
        let error: String?
        let ids: [Int]?
        let assistant_masks: [Int]?

        /// The messages as role and content only, when that is all they have.
        var plainMessages: [ChatMessage]? {
            guard case .array(let items) = messages.value else { return nil }
            var out: [ChatMessage] = []
            for item in items {
                guard case .object(let o) = item, o.count == 2, case .string(let role)? = o["role"], case .string(let content)? = o["content"] else { return nil }
                out.append(ChatMessage(role: role, content: content))
            }
            return out
        }
        var addGenerationPrompt: Bool { kwargs["add_generation_prompt"]?.value.truthy ?? false }
    }

    struct Golden: Decodable {
        let templates: [String: String]
        let tokens: [String: [String: String]]
        let cases: [Case]
    }

    static let folder = Bundle.module.url(forResource: "Golden/chat_templates", withExtension: nil)!
    static let golden = try! JSONDecoder().decode(Golden.self, from: Data(contentsOf: folder.appendingPathComponent("expected.json")))

    /// The variables apply_chat_template passes: messages, tools (none unless given), documents,
    /// the special tokens, and the call's other keyword arguments.
    static func context(_ c: Case) -> [String: Value] {
        var ctx: [String: Value] = ["messages": c.messages.value, "tools": .none, "documents": .none]
        for (k, v) in golden.tokens[c.template]! { ctx[k] = .string(v) }
        for (k, v) in c.kwargs { ctx[k] = v.value }
        return ctx
    }

    @Test func rendersLikeJinja2() throws {
        #expect(Self.golden.cases.count > 90)
        var checked = 0
        for c in Self.golden.cases {
            let template = try Template(Self.golden.templates[c.template]!)
            do {
                let out = try template.render(Self.context(c))
                if let text = c.text {
                    #expect(out.text == text, "\(c.template): rendered differently")
                    if out.text != text { print("--- saro\n\(out.text)\n--- jinja2\n\(text)") }
                } else {
                    Issue.record("\(c.template): rendered, but Jinja2 raised \(c.error ?? "")")
                }
            } catch let e as TemplateError {
                #expect(e.raised && e.message == c.error, "\(c.template): \(e)")
            }
            checked += 1
        }
        #expect(checked == Self.golden.cases.count)
    }

    /// Ids through ChatTemplate with the golden tokenizer, and the assistant mask: transformers'
    /// from {% generation %} markers, and the same mask derived from the template with its
    /// markers taken out (by rendering conversation prefixes). "constructs" is no chat template
    /// (it leaves messages out), so only its text is compared.
    @Test func idsAndAssistantMasksMatchTransformers() throws {
        let tokenizer = try Tokenizer(tokenizerJSON: Self.folder.appendingPathComponent("tokenizer.json"))
        var rendered = 0, masked = 0, derived = 0
        for c in Self.golden.cases {
            guard c.template != "constructs", let ids = c.ids, let messages = c.plainMessages, c.kwargs.keys.allSatisfy({ ["add_generation_prompt", "date_string"].contains($0) }) else { continue }
            let source = Self.golden.templates[c.template]!
            let t = try Self.tokenizer(tokenizer, tokens: Self.golden.tokens[c.template]!)
            var template = try ChatTemplate(jinja: source, origin: c.template)
            template.variables = c.kwargs.filter { $0.key != "add_generation_prompt" }.mapValues(\.value)
            let (gotIds, mask) = try template.render(messages, tokenizer: t, addGenerationPrompt: c.addGenerationPrompt)
            #expect(gotIds == ids, "\(c.template)")
            rendered += 1
            guard let expected = c.assistant_masks?.map({ $0 == 1 }) else { continue }
            #expect(mask == expected, "\(c.template): mask from generation markers")
            masked += 1
            // The reasoning template drops past reasoning, so prefixes do not render stably there.
            guard c.template != "reasoning" else { continue }
            var unmarked = try ChatTemplate(jinja: source.replacingOccurrences(of: #"\{%-? *(end)?generation *-?%\}"#, with: "", options: .regularExpression), origin: c.template)
            unmarked.variables = template.variables
            let (sameIds, derivedMask) = try unmarked.render(messages, tokenizer: t, addGenerationPrompt: c.addGenerationPrompt)
            #expect(sameIds == ids && derivedMask == expected, "\(c.template): mask derived from prefixes")
            derived += 1
        }
        #expect(rendered >= 60 && masked >= 20 && derived >= 14)
    }

    /// The golden tokenizer with one template's BOS and EOS, as the golden script set them.
    static func tokenizer(_ base: Tokenizer, tokens: [String: String]) throws -> Tokenizer {
        base.bosTokenId = base.id(of: tokens["bos_token"]!)
        base.eosTokenId = base.id(of: tokens["eos_token"]!)
        return base
    }

    @Test func endOfTurnTokensComeFromTheTemplate() throws {
        let tokenizer = try Tokenizer(tokenizerJSON: Self.folder.appendingPathComponent("tokenizer.json"))
        for (name, token) in [("dated_headers", "<|eot_id|>"), ("chatml_tools", "<|im_end|>"), ("turns", "<end_of_turn>"), ("inst_tools", "</s>"), ("smollm2_gguf", "<|im_end|>")] {
            let t = try Self.tokenizer(tokenizer, tokens: Self.golden.tokens[name]!)
            let template = try ChatTemplate(jinja: Self.golden.templates[name]!, origin: name)
            #expect(template.endOfTurnTokenId(tokenizer: t) == t.id(of: token), "\(name)")
            #expect(template.stopTokenIds(tokenizer: t).contains(t.id(of: token)!))
        }
    }

    /// A partial assistant turn stays open (transformers' continue_final_message), also where the
    /// template trims the content.
    @Test func continuesTheFinalMessage() throws {
        let tokenizer = try Tokenizer(tokenizerJSON: Self.folder.appendingPathComponent("tokenizer.json"))
        for name in ["llama3_marked", "turns", "chatml_marked"] {
            let t = try Self.tokenizer(tokenizer, tokens: Self.golden.tokens[name]!)
            let template = try ChatTemplate(jinja: Self.golden.templates[name]!, origin: name)
            let (ids, mask) = try template.render([.user("hi"), .assistant("<think>\nWait, ")], tokenizer: t, continueFinalMessage: true)
            #expect(t.decode(ids).hasSuffix("<think>\nWait,") || t.decode(ids).hasSuffix("<think>\nWait, "), "\(name)")
            #expect(mask.last == true)
            #expect(!t.decode(ids).hasSuffix(">"), "\(name): the turn is left open")
        }
    }

    @Test func errorsNameTheTemplateAndLine() throws {
        do { _ = try ChatTemplate(jinja: "line one\n{% if x %}\nunclosed", origin: "tokenizer_config.json"); Issue.record("accepted") } catch {
            #expect("\(error)".hasPrefix("tokenizer_config.json: chat template line 2: 'if' is never closed"))
        }
        do { _ = try ChatTemplate(jinja: "{{ x | nosuchfilter }}", origin: "t.jinja").render([.user("a")], tokenizer: try Tokenizer(tokenizerJSON: Self.folder.appendingPathComponent("tokenizer.json"))); Issue.record("rendered") } catch {
            #expect("\(error)" == "t.jinja: chat template line 1: unknown filter 'nosuchfilter'")
        }
        let gemma = try ChatTemplate(jinja: Self.golden.templates["turns"]!, origin: "turns")
        do { _ = try gemma.render([.system("s"), .user("u")], tokenizer: try Tokenizer(tokenizerJSON: Self.folder.appendingPathComponent("tokenizer.json"))); Issue.record("rendered") } catch {
            #expect("\(error)" == "turns: the chat template refused the conversation: This template has no system role.")
        }
    }

    @Test func strftimeNowFormatsTheGivenDate() throws {
        let t = try Template("{{ strftime_now('%d %b %Y') }}")
        // Noon UTC: the 26th in every time zone from UTC-11 to UTC+11.
        #expect(try t.render([:], now: Date(timeIntervalSince1970: 1_721_995_200)).text == "26 Jul 2024")
    }
}
