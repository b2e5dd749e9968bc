import Foundation

/// `run.log` in the run folder: when each stage started, was skipped or finished, and the
/// stages' notes, with UTC times; appended by every run so that a resumed run's history stays.
/// Progress of builds and training steps is left out (training metrics are in each
/// checkpoint folder's metrics.jsonl).
final class RunLog: @unchecked Sendable {
    let path: String
    private let lock = NSLock()
    private var handle: FileHandle?

    init(path: String) { self.path = path }

    func record(_ event: PipelineEvent) {
        let line: String
        switch event {
        case .stageStarted(let name, let index, let count): line = "[\(index)/\(count)] \(name) started"
        case .stageSkipped(let name): line = "\(name) skipped: done, inputs unchanged"
        case .stageFinished(let name, let seconds, let peak): line = String(format: "%@ finished in %.1f s, peak resident memory %.0f MB", name, seconds, peak)
        case .note(let text): line = text
        case .build, .training: return
        }
        lock.lock(); defer { lock.unlock() }
        if handle == nil {
            if !FileManager.default.fileExists(atPath: path) {
                guard FileManager.default.createFile(atPath: path, contents: nil) else { return }
            }
            handle = FileHandle(forWritingAtPath: path)
            _ = try? handle?.seekToEnd()
        }
        try? handle?.write(contentsOf: Data((ISO8601DateFormatter().string(from: Date()) + " " + line + "\n").utf8))
    }
}
