import Hummingbird
import ServiceLifecycle

/// Runs a Hummingbird application while `body` runs, then shuts it down gracefully. Not by
/// cancelling its task: NIO traps ("Deinited NIOAsyncWriter without calling finish()") when a
/// cancelled server drops a connection it accepted but has not yet served, which a loaded
/// machine makes likely (swift-nio issues 2637 and 3481).
public enum GracefulServing {
    /// `ports` yields the bound port once the server runs (the application's onServerRunning).
    public static func run<App: ApplicationProtocol, T>(_ app: App, ports: AsyncStream<Int>, _ body: (Int) async throws -> T) async throws -> T {
        let group = ServiceGroup(services: [app], logger: app.logger)
        let task = Task { try await group.run() }
        func stop() async {
            await group.triggerGracefulShutdown()
            _ = try? await task.value
        }
        var it = ports.makeAsyncIterator()
        guard let port = await it.next() else { await stop(); throw CancellationError() }
        do {
            let result = try await body(port)
            await stop()
            return result
        } catch {
            await stop()
            throw error
        }
    }
}
