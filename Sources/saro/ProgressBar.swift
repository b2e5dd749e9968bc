import Foundation

/// A terminal progress bar with rate and ETA, redrawn in place on a terminal and printed as
/// plain lines (at most every few seconds) when standard error is not one.
final class ProgressBar {
    let label: String
    let quiet: Bool
    let isTerminal = isatty(2) != 0
    var total = 0, startDone = 0
    var startTime = Date()
    var lastPrint = Date.distantPast

    init(label: String, quiet: Bool = false) { self.label = label; self.quiet = quiet }

    func start(total: Int, done: Int) {
        self.total = total
        startDone = done
        startTime = Date()
        update(done: done, status: "")
    }

    func update(done: Int, status: String) {
        guard !quiet else { return }
        let now = Date()
        guard isTerminal || now.timeIntervalSince(lastPrint) >= 5 || done == total else { return }
        lastPrint = now
        let elapsed = now.timeIntervalSince(startTime)
        let rate = elapsed > 0 ? Double(done - startDone) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let width = 24
        let filled = total > 0 ? width * done / total : 0
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = String(format: "%@ [%@] %d/%d  %.2f it/s  ETA %@  %@", label, bar, done, total, rate, Self.clock(eta), status)
        FileHandle.standardError.write(Data((isTerminal ? "\r\u{1B}[K" + line : line + "\n").utf8))
    }

    func note(_ text: String) {
        guard !quiet else { return }
        FileHandle.standardError.write(Data(((isTerminal ? "\r\u{1B}[K" : "") + text + "\n").utf8))
    }

    func finish() { if !quiet && isTerminal { FileHandle.standardError.write(Data("\n".utf8)) } }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
