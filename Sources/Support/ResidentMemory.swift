import Foundation

/// The process's resident memory high-water mark, which can be reset so that each part of a
/// run (a pipeline stage) gets its own peak. Linux keeps it as VmHWM in /proc/self/status and
/// resets it when "5" is written to /proc/self/clear_refs; elsewhere the peak is getrusage's
/// whole-process maximum and cannot be reset.
public enum ResidentMemory {
    /// Starts a new peak from the memory resident now; false where the system cannot.
    @discardableResult
    public static func resetPeak() -> Bool {
        guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? handle.close() }
        do { try handle.write(contentsOf: Data("5".utf8)) } catch { return false }
        return true
    }

    /// The peak resident memory in MiB since the last reset (or since the process started).
    public static func peakMegabytes() -> Double {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
           let kb = Double(line.split(separator: " ").dropFirst().first ?? "") {
            return kb / 1024
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }
}
