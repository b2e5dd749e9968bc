import Support
import Foundation
import Yams

/// All jailbreak templates: PyRIT's classic templates (top level of its templates folder),
/// the project's transformations, and optionally a user's folder of templates in PyRIT's
/// YAML format. Families are split into training and held-out families by a recipe setting.
public struct TemplateLibrary: Sendable {
    public var templates: [JailbreakTemplate]

    public init(templates: [JailbreakTemplate]) { self.templates = templates }

    /// Family of a PyRIT template by its file name. Named personas without a family of their
    /// own are "persona".
    public static func family(ofPyRIT name: String) -> String {
        if name.hasPrefix("dev_mode") { return "developer_mode" }
        if name.hasPrefix("dan_") || name.hasSuffix("_dan") || name.hasPrefix("dude_") || name == "better_dan" { return "dan" }
        let table: [String: String] = [
            "prefix_injection": "prefix_injection", "refusal_suppression": "refusal_suppression", "style_injection": "style_injection",
            "aim": "roleplay", "evil_confidant": "roleplay", "role_play": "roleplay", "hypothetical_response": "roleplay",
            "gpt_4_simulator": "roleplay", "confronting_personalities": "roleplay", "text_continuation": "roleplay", "wikipedia_with_title": "roleplay",
            "code_nesting": "nesting", "table_nesting": "nesting", "text_continuation_nesting": "nesting",
            "cipher_chat": "cipher",
        ]
        return table[name] ?? "persona"
    }

    /// PyRIT templates that are not attacks on a harmful request (stereotype probes).
    static let excluded: Set<String> = ["dt_stereotypes_benign", "dt_stereotypes_untargeted"]

    /// Loads every `*.yaml` with a `value` holding one `{{ prompt }}` slot from a folder (not
    /// recursive). Templates without exactly one slot are skipped and reported in `skipped`.
    public static func loadFolder(_ dir: String, source: String, family: (String) -> String) throws -> (templates: [JailbreakTemplate], skipped: [String]) {
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".yaml") }.sorted()
        var out: [JailbreakTemplate] = [], skipped: [String] = []
        for f in files {
            let name = String(f.dropLast(5))
            if excluded.contains(name) { continue }
            let path = (dir as NSString).appendingPathComponent(f)
            guard let text = FileManager.default.contents(atPath: path) else { throw SourceError.missing(path) }
            let doc: Any?
            do { doc = try Yams.load(yaml: String(decoding: text, as: UTF8.self)) } catch {
                throw SourceError.malformed(path: path, line: 1, reason: "YAML: \(error)")
            }
            guard let d = doc as? [String: Any], let value = d["value"] as? String else {
                throw SourceError.malformed(path: path, line: 1, reason: "no 'value' field")
            }
            guard value.matches(of: JailbreakTemplate.slot).count == 1 else { skipped.append(name); continue }
            out.append(JailbreakTemplate(name: name, family: family(name), source: source, body: value))
        }
        return (out, skipped)
    }

    /// The standard library: PyRIT's templates (fetched from PyPI) and the transformations.
    /// `maxCharacters` drops templates longer than that (very long personas cost context).
    public static func standard(maxCharacters: Int = 4000, userFolder: String? = nil, log: (String) -> Void = { _ in }) throws -> TemplateLibrary {
        let dir = try DataPackages.directory("pyrit", log: log).appendingPathComponent("pyrit/datasets/jailbreak/templates").path
        var all = try loadFolder(dir, source: "pyrit", family: family(ofPyRIT:)).templates
        all += Transformation.allCases.map { JailbreakTemplate(name: "saro_\($0.rawValue)", family: $0.family, source: "saro", body: nil, transformation: $0) }
        if let userFolder { all += try loadFolder(userFolder, source: URL(fileURLWithPath: userFolder).lastPathComponent, family: { _ in "user" }).templates }
        return TemplateLibrary(templates: all.filter { ($0.body?.count ?? 0) <= maxCharacters })
    }

    public var families: [String] { Array(Set(templates.map(\.family))).sorted() }

    public func split(heldOut: Set<String>) -> (train: [JailbreakTemplate], heldOut: [JailbreakTemplate]) {
        (templates.filter { !heldOut.contains($0.family) }, templates.filter { heldOut.contains($0.family) })
    }

    /// The underlying request of a wrapped prompt: the first template whose shape it has.
    public func extract(_ wrapped: String) -> (request: String, template: JailbreakTemplate)? {
        // Text templates and exact transformations first; leetspeak matches any text with
        // digits, so it is the last resort.
        let ordered = templates.filter { $0.transformation != .leetspeak } + templates.filter { $0.transformation == .leetspeak }
        for t in ordered { if let r = t.extract(wrapped), !r.isEmpty, r != wrapped { return (r, t) } }
        return nil
    }
}
