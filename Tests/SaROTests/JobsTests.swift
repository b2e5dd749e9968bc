@testable import Support
import Foundation
import Testing
@testable import Jobs

@Suite struct JobsTests {
    static func tempDir(_ name: String) -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("saro-jobs-\(getpid())-\(name)")
        try? FileManager.default.removeItem(at: d)
        try? FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d.path
    }

    /// FIPS 180-4 example vectors (also what `sha256sum` prints).
    @Test func sha256MatchesTheStandardVectors() {
        #expect(Hex.sha256("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Hex.sha256("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Hex.sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(Hex.sha256(String(repeating: "a", count: 1000)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    /// Files digested in chunks: a million "a" is FIPS 180-4's long vector, and the pattern
    /// of 8 MB + 17 bytes (more than one read) is Python's hashlib.sha256 of the same bytes.
    @Test func sha256OfLongFiles() throws {
        let dir = Self.tempDir("sha-files")
        let million = dir + "/million-a"
        try Data(repeating: UInt8(ascii: "a"), count: 1_000_000).write(to: URL(fileURLWithPath: million))
        #expect(FileDigest.hash(million) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        let count: Int = (8 << 20) + 17
        let pattern = dir + "/pattern"
        try Data((0..<count).map { (i: Int) -> UInt8 in UInt8((i * 7 + 3) % 256) }).write(to: URL(fileURLWithPath: pattern))
        #expect(FileDigest.hash(pattern) == Self.patternDigest)
    }

    /// hashlib.sha256(bytes((i * 7 + 3) % 256 for i in range((8 << 20) + 17))).hexdigest()
    static let patternDigest = "70f0889921d46234f00ea32c3b73d89855e0bc12319b58d4b10315024f09a291"

    /// Content, not place or time: a copied folder and a rewrite with the same bytes keep the
    /// digest; one changed byte does not, also for a file past the memo threshold.
    @Test func fileDigestFollowsContent() throws {
        let root = Self.tempDir("digest"), fm = FileManager.default
        let model = root + "/model", copy = root + "/elsewhere/model"
        try fm.createDirectory(atPath: model + "/checkpoint-10", withIntermediateDirectories: true)
        let big = Data((0..<(FileDigest.memoFrom + 5)).map { UInt8($0 % 251) })
        try big.write(to: URL(fileURLWithPath: model + "/model.safetensors"))
        try Data("{}".utf8).write(to: URL(fileURLWithPath: model + "/config.json"))
        try Data("x".utf8).write(to: URL(fileURLWithPath: model + "/checkpoint-10/state"))
        let before = FileDigest.of(model)
        try fm.createDirectory(atPath: root + "/elsewhere", withIntermediateDirectories: true)
        try fm.copyItem(atPath: model, toPath: copy)
        try fm.removeItem(atPath: copy + "/checkpoint-10")
        #expect(FileDigest.of(copy) == before)
        try big.write(to: URL(fileURLWithPath: model + "/model.safetensors"))   // same bytes, new mtime
        #expect(FileDigest.of(model) == before)
        var changed = big
        changed[changed.count - 1] ^= 1
        try changed.write(to: URL(fileURLWithPath: copy + "/model.safetensors"))
        #expect(FileDigest.of(copy) != before)
        #expect(FileDigest.of(root + "/nothing") == "missing")
    }

    @Test func normalizedTextFoldsCasePunctuationAndSpace() {
        #expect(ContentKey.normalized("  How do I KILL a Python process?! ") == "how do i kill a python process")
        #expect(ContentKey.normalizedHash("How do I kill a Python process?") == ContentKey.normalizedHash("how do i kill a python-process"))
        #expect(ContentKey.of("a", "bc") != ContentKey.of("ab", "c"))
    }

    @Test func jobStoreKeepsTheFirstValueAndSurvivesReopening() async throws {
        let path = Self.tempDir("store") + "/jobs.sqlite"
        do {
            let store = try JobStore(path: path)
            try store.set(["x": 1], "teacher", "k1")
            try store.set(["x": 2], "teacher", "k1")   // ignored: first result wins
            var calls = 0
            let v = try await store.cached("judgment", "k2") { calls += 1; return "computed" }
            let again = try await store.cached("judgment", "k2") { calls += 1; return "other" }
            #expect(v == "computed" && again == "computed" && calls == 1)
        }
        let reopened = try JobStore(path: path)
        #expect(try reopened.get([String: Int].self, "teacher", "k1") == ["x": 1])
        #expect(try reopened.count("teacher") == 1)
        #expect(try reopened.keys("judgment") == ["k2"])
    }

    @Test func jsonlErrorsNameFileAndLine() throws {
        let dir = Self.tempDir("jsonl")
        let path = dir + "/bad.jsonl"
        try Data("{\"a\": 1}\n\n{\"a\": \n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: JSONLError.self) { try JSONL.readObjects(path) }
        do { _ = try JSONL.readObjects(path) } catch { #expect("\(error)" == "\(path):3: not valid JSON") }
        struct R: Codable { var a: Int }
        try Data("{\"a\": 1}\n{\"b\": 2}\n".utf8).write(to: URL(fileURLWithPath: path))
        do { _ = try JSONL.read(R.self, path); Issue.record("expected an error") } catch { #expect("\(error)" == "\(path):2: missing field 'a'") }
        // Atomic write leaves no temporary file behind.
        try JSONL.write([R(a: 5)], to: dir + "/out.jsonl")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["bad.jsonl", "out.jsonl"])
    }
}
