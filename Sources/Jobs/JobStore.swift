import Foundation
import GRDB

public enum JobStoreError: Error, CustomStringConvertible {
    case open(path: String, reason: String)
    case corrupt(namespace: String, key: String, reason: String)
    /// A computation finished without delivering the value for a key.
    case missingResult(namespace: String, key: String)

    public var description: String {
        switch self {
        case .open(let p, let r): return "\(p): cannot open the job store: \(r)"
        case .corrupt(let n, let k, let r): return "job store record \(n)/\(k.prefix(12)): \(r)"
        case .missingResult(let n, let k): return "no \(n) result was produced for record \(k.prefix(12))"
        }
    }
}

/// Finished work, keyed by the hash of its inputs, in one SQLite file (GRDB).
///
/// Every teacher call, sampled response, judgment and built example is a row written in its
/// own transaction as soon as it exists, so a killed job loses at most the calls in flight, and
/// a rerun computes only what has no row yet. Values are JSON.
public final class JobStore: @unchecked Sendable {
    public let path: String
    private let db: DatabaseQueue
    /// What this instance created (the file, its folder), removed again if no row was ever
    /// written: a command that fails before its first result leaves nothing behind.
    private let createdFile: Bool
    private let createdFolder: URL?

    public init(path: String) throws {
        self.path = path
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        createdFile = !FileManager.default.fileExists(atPath: path)
        createdFolder = FileManager.default.fileExists(atPath: folder.path) ? nil : folder
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            var config = Configuration()
            config.busyMode = .timeout(10)
            db = try DatabaseQueue(path: path, configuration: config)
            try db.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA journal_mode = WAL")
                try db.execute(sql: """
                    CREATE TABLE IF NOT EXISTS entries (
                        namespace TEXT NOT NULL,
                        key TEXT NOT NULL,
                        value TEXT NOT NULL,
                        created REAL NOT NULL,
                        PRIMARY KEY (namespace, key))
                    """)
            }
        } catch let e as JobStoreError { throw e } catch {
            throw JobStoreError.open(path: path, reason: "\(error)")
        }
    }

    deinit {
        guard createdFile, (try? db.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM entries") }) == 0 else { return }
        try? db.close()
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        if let folder = createdFolder, (try? FileManager.default.contentsOfDirectory(atPath: folder.path))?.isEmpty == true {
            try? FileManager.default.removeItem(at: folder)
        }
    }

    public func value(_ namespace: String, _ key: String) throws -> String? {
        try db.read { db in try String.fetchOne(db, sql: "SELECT value FROM entries WHERE namespace = ? AND key = ?", arguments: [namespace, key]) }
    }

    /// Stores a value; an existing row for the key is kept (the first result of a job wins,
    /// so concurrent or repeated runs never produce two versions of one record).
    public func put(_ namespace: String, _ key: String, _ value: String) throws {
        try db.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO entries (namespace, key, value, created) VALUES (?, ?, ?, ?)",
                           arguments: [namespace, key, value, Date().timeIntervalSince1970])
        }
    }

    public func count(_ namespace: String) throws -> Int {
        try db.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM entries WHERE namespace = ?", arguments: [namespace]) ?? 0 }
    }

    public func keys(_ namespace: String) throws -> Set<String> {
        try db.read { db in Set(try String.fetchAll(db, sql: "SELECT key FROM entries WHERE namespace = ?", arguments: [namespace])) }
    }

    // MARK: Codable values

    public func get<T: Decodable>(_ type: T.Type, _ namespace: String, _ key: String) throws -> T? {
        guard let s = try value(namespace, key) else { return nil }
        do { return try JSONDecoder().decode(T.self, from: Data(s.utf8)) } catch {
            throw JobStoreError.corrupt(namespace: namespace, key: key, reason: "\(error)")
        }
    }

    public func set<T: Encodable>(_ value: T, _ namespace: String, _ key: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        try put(namespace, key, String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// The stored value for the key, or the computed one, stored before it is returned.
    public func cached<T: Codable>(_ namespace: String, _ key: String, compute: () async throws -> T) async throws -> T {
        if let v = try get(T.self, namespace, key) { return v }
        let v = try await compute()
        try set(v, namespace, key)
        return try get(T.self, namespace, key) ?? v
    }

    public func cachedSync<T: Codable>(_ namespace: String, _ key: String, compute: () throws -> T) throws -> T {
        if let v = try get(T.self, namespace, key) { return v }
        let v = try compute()
        try set(v, namespace, key)
        return try get(T.self, namespace, key) ?? v
    }
}
