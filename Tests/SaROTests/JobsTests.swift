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
        #expect(SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex(String(repeating: "a", count: 1000)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
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
