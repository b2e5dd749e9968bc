import Foundation
import Support
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Starting programs (Support's SpawnedProgram, Subprocess, ChildProcess): what the child gets
/// and how its end is reported.
@Suite struct SpawnTests {
    /// A descriptor this process holds open (not close-on-exec) is not the child's: a helper
    /// left running cannot keep another test's pipe open.
    @Test func theChildGetsOnlyItsStandardStreams() throws {
        var fds: [Int32] = [-1, -1]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let r = try Subprocess.run(["/bin/sh", "-c", "for fd in 0 1 2 \(fds[0]) \(fds[1]); do if [ -e /proc/$$/fd/$fd ]; then echo $fd open; else echo $fd closed; fi; done"])
        #expect(r.succeeded)
        #expect(r.stdoutText == "0 open\n1 open\n2 open\n\(fds[0]) closed\n\(fds[1]) closed\n", "\(r.stdoutText)")
    }

    /// A variable saro sets for a library it loads stays out of the programs it starts; one the
    /// user gave is kept, never overwritten, and reaches them.
    @Test func variablesSetForSarosLibrariesStayOutOfChildren() throws {
        let name = "SARO_TEST_LIBRARY_SETTING_\(getpid())", given = "SARO_TEST_GIVEN_SETTING_\(getpid())"
        defer { unsetenv(name); unsetenv(given) }
        #expect(LibraryEnvironment.setUnlessGiven(name, "saro"))
        #expect(String(cString: getenv(name)) == "saro" && LibraryEnvironment.forChildren[name] == nil)
        setenv(given, "user", 1)
        #expect(!LibraryEnvironment.setUnlessGiven(given, "saro"))
        #expect(String(cString: getenv(given)) == "user" && LibraryEnvironment.forChildren[given] == "user")
        let r = try Subprocess.run(["/bin/sh", "-c", "echo \"${\(name):-unset} ${\(given):-unset}\""])
        #expect(r.stdoutText == "unset user\n", "\(r.stdoutText)")
    }

    @Test func exitCodesAndSignalsAreTold() throws {
        let three = try Subprocess.run(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"])
        #expect(three.termination == Termination(code: 3, signalled: false) && three.termination.shellStatus == 3 && !three.succeeded)
        #expect(three.stdoutText == "out\n" && String(decoding: three.stderr, as: UTF8.self) == "err\n")
        let killed = try Subprocess.run(["/bin/sh", "-c", "kill -KILL $$"])
        #expect(killed.termination.signalled && killed.status == SIGKILL && killed.termination.shellStatus == 128 + SIGKILL)
    }

    /// Both outputs far larger than a pipe's buffer: read side by side, the child never stalls.
    @Test func largeOutputOnBothStreams() throws {
        let r = try Subprocess.run(["/bin/sh", "-c", "head -c 3000000 /dev/zero; head -c 2000000 /dev/zero >&2; head -c 1000000 /dev/zero"])
        #expect(r.succeeded && r.stdout.count == 4_000_000 && r.stderr.count == 2_000_000)
    }

    @Test func environmentFolderAndPathLookup() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("saro-spawn-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try Subprocess.run(["sh", "-c", "pwd; echo \"$ONLY\"; echo \"${HOME:-none}\""], environment: ["ONLY": "this", "PATH": "/usr/bin:/bin"],
                                   workingDirectory: dir.path)
        #expect(r.stdoutText == "\(dir.resolvingSymlinksInPath().path)\nthis\nnone\n", "\(r.stdoutText)")
    }

    @Test func aMissingProgramIsAnErrorNamingIt() {
        #expect {
            _ = try Subprocess.run(["/nowhere/saro-no-such-program"])
        } throws: { "\($0)".contains("/nowhere/saro-no-such-program") && "\($0)".contains("No such file") }
        #expect(throws: SpawnError.self) { _ = try Subprocess.run(["/tmp", "x"], workingDirectory: "/nowhere/at/all") }
    }

    /// A ChildProcess's output goes to its log, `stop` ends its whole process group (a worker
    /// it started included), and the exit is reported as a shell does.
    @Test func childProcessLogsAndStopsItsGroup() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("saro-child-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = dir.appendingPathComponent("logs/child.log").path
        let script = "echo started; sleep 300 & echo $! > \(dir.path)/worker; wait"
        let child = try ChildProcess(command: "/bin/sh -c " + ChildProcess.quote(script), logPath: log)
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline && !FileManager.default.fileExists(atPath: dir.path + "/worker") { usleep(20_000) }
        let worker = try #require(Int32(try String(contentsOfFile: dir.path + "/worker", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(child.isRunning && kill(worker, 0) == 0)
        child.stop(grace: 10)
        #expect(child.exited() == 128 + SIGTERM)
        let gone = Date().addingTimeInterval(10)   // until whoever inherits it has reaped it
        while Date() < gone && kill(worker, 0) == 0 { usleep(20_000) }
        #expect(kill(worker, 0) != 0, "the worker in the child's group was stopped too")
        #expect(child.logTail() == "started")
        let quick = try ChildProcess(command: "/bin/sh -c 'exit 7'", logPath: log)
        while quick.isRunning { usleep(10_000) }
        #expect(quick.exited() == 7)
    }
}
