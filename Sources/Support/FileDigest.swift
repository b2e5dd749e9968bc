import Crypto
import Foundation

/// The content digest of a file or folder (SHA-256), the one way saro names data and weights in
/// stage fingerprints, sample caches and DPO reference caches. Content, not path or modification
/// time: a run folder copied or moved elsewhere keeps its keys, and a file rewritten with the
/// same bytes does not count as changed.
public enum FileDigest {
    /// A folder digests its entries' names and digests, sorted; hidden entries and training
    /// checkpoints (`checkpoint-N`) are left out. A missing path digests to "missing".
    public static func of(_ path: String) -> String {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return "missing" }
        if isDir.boolValue {
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { !$0.hasPrefix(".") && !$0.hasPrefix("checkpoint-") }.sorted()
            return ContentKey.of(files.map { $0 + ":" + of((path as NSString).appendingPathComponent($0)) })
        }
        let attrs = try? FileManager.default.attributesOfItem(atPath: path)
        let size = (attrs?[.size] as? Int) ?? 0
        guard size > memoFrom else { return hash(path) ?? "unreadable" }
        // Model weights are hundreds of MB: hashed once per process while the file stays the same.
        let stamp = "\(path)|\(size)|\((attrs?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)|\(attrs?[.systemFileNumber] ?? 0)"
        if let known = memo.get(stamp) { return known }
        let digest = hash(path) ?? "unreadable"
        memo.set(stamp, digest)
        return digest
    }

    static let memoFrom = 1 << 20
    static let memo = Memo()

    /// SHA-256 of a file's bytes, read in 8 MB chunks.
    static func hash(_ path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        var h = SHA256()
        while let chunk = try? handle.read(upToCount: 8 << 20), !chunk.isEmpty { h.update(data: chunk) }
        return Hex.string(h.finalize())
    }

    final class Memo: @unchecked Sendable {
        private var digests: [String: String] = [:]
        private let lock = NSLock()
        func get(_ key: String) -> String? { lock.withLock { digests[key] } }
        func set(_ key: String, _ value: String) { lock.withLock { digests[key] = value } }
    }
}
