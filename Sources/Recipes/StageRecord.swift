import Support
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
        /// This process's peak resident memory during the stage, MiB (servers and TRL run in
        /// processes of their own and are not counted); nil in records from before it was kept.
        public var peakResidentMB: Double?
        enum CodingKeys: String, CodingKey { case fingerprint, finished, seconds, outputs, peakResidentMB = "peak_resident_mb" }
    }
    public var stages: [String: Entry] = [:]

    public static func load(_ path: String) throws -> StageRecords {
        guard let data = FileManager.default.contents(atPath: path) else { return StageRecords() }
        do { return try JSONDecoder().decode(StageRecords.self, from: data) } catch {
            throw JSONLError.malformed(path: path, line: 1, reason: DecodingErrorText.describe(error))
        }
    }

    public func save(_ path: String) throws {
        try JSONL.writeDocument(self, to: path)
    }
}
