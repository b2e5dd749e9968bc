import Foundation

/// Finds a module's resource folder (SwiftPM's `<package>_<module>.resources`) beside the
/// running executable, as the build folder lays it out, or in `../share/saro/` next to it, as
/// `scripts/install.sh` lays it out (`PREFIX/bin/saro`, `PREFIX/share/saro/`). SwiftPM's own
/// `Bundle.module` also looks in the build folder's absolute path and stops the process with
/// a fatal error when neither is there, so a binary copied elsewhere died on first use; this
/// lookup follows symbolic links to the real executable and throws an error that says where
/// it looked instead.
public struct ResourceBundle: Sendable {
    public let name: String
    public let url: URL

    public struct Missing: Error, CustomStringConvertible {
        public let name: String
        public let searched: [String]
        public var description: String {
            "saro's resource folder \(name) is not installed: looked in \(searched.joined(separator: ", ")). "
                + "Install saro with scripts/install.sh (it puts the folder in PREFIX/share/saro), or copy the folder "
                + "from the build folder (.build/release) beside the binary"
        }
    }

    /// The folders searched for `name`, nearest first.
    public static func candidates(_ name: String, executable: URL? = Bundle.main.executableURL) -> [URL] {
        guard let exe = executable?.resolvingSymlinksInPath() else { return [] }
        let dir = exe.deletingLastPathComponent()
        return [dir.appendingPathComponent(name),
                dir.deletingLastPathComponent().appendingPathComponent("share/saro").appendingPathComponent(name)]
    }

    public static func locate(_ name: String, executable: URL? = Bundle.main.executableURL) throws -> ResourceBundle {
        let places = candidates(name, executable: executable)
        var isDir: ObjCBool = false
        for url in places where FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) && isDir.boolValue {
            return ResourceBundle(name: name, url: url)
        }
        throw Missing(name: name, searched: places.map(\.path))
    }

    /// A file or folder inside the bundle (relative path), which must exist.
    public func path(_ relative: String) throws -> String {
        let p = url.appendingPathComponent(relative).path
        guard FileManager.default.fileExists(atPath: p) else {
            throw Missing(name: "\(name)/\(relative)", searched: [p])
        }
        return p
    }
}
