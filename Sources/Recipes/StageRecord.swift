import Foundation
import Jobs

/// What `stages.json` in the run folder records: each finished stage with the fingerprint of
/// its inputs. A rerun skips a stage whose fingerprint matches and whose outputs exist, and
/// reruns (resuming) any other.
public struct StageRecords: Codable, Sendable {
    public struct Entry: Codable, Sendable, Equatable {
        public var fingerprint: String
        public var finished: String
        public var seconds: Double
        public var outputs: [String]
    }
    public var stages: [String: Entry] = [:]

    public static func load(_ path: String) throws -> StageRecords {
        guard let data = FileManager.default.contents(atPath: path) else { return StageRecords() }
        do { return try JSONDecoder().decode(StageRecords.self, from: data) } catch {
            throw JSONLError.malformed(path: path, line: 1, reason: JSONL.describe(error))
        }
    }

    public func save(_ path: String) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try JSONL.writeAtomically(String(decoding: try enc.encode(self), as: UTF8.self) + "\n", to: path)
    }
}

/// A digest of files and folders for stage fingerprints: small files by content (SHA-256),
/// large ones and folders' large files by size and modification time.
public enum FileDigest {
    public static func of(_ path: String) -> String {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return "missing" }
        if isDir.boolValue {
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { !$0.hasPrefix(".") && !$0.hasPrefix("checkpoint-") }.sorted()
            return ContentKey.of(files.map { $0 + ":" + of((path as NSString).appendingPathComponent($0)) })
        }
        let attrs = try? FileManager.default.attributesOfItem(atPath: path)
        let size = (attrs?[.size] as? Int) ?? 0
        if size > 16 << 20 { return "\(size)-\((attrs?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)" }
        var h = SHA256()
        h.update(FileManager.default.contents(atPath: path) ?? Data())
        return h.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
