import Foundation
import Models

/// Runs generation requests in batches on one dedicated thread: requests wait in a bounded
/// queue, and each time the engine is free it takes up to `maxBatch` of them and generates them
/// together (different lengths, options and stops per row). Handlers on the event loops never
/// block: they get text deltas and the result through callbacks.
public final class BatchScheduler: @unchecked Sendable {
    public enum SubmitError: Error { case queueFull, shuttingDown }

    /// A request's cancellation flag, set when its client goes away.
    public final class Cancellation: @unchecked Sendable {
        private let lock = NSLock()
        private var flag = false
        public init() {}
        public func cancel() { lock.lock(); flag = true; lock.unlock() }
        public var isCancelled: Bool { lock.lock(); defer { lock.unlock() }; return flag }
    }

    public struct Job: Sendable {
        public var request: GenerationRequest
        public var cancellation: Cancellation
        /// Text as it is generated (called on the scheduler's thread).
        public var onDelta: @Sendable (String) -> Void
        public var onFinish: @Sendable (GenerationResult) -> Void

        public init(request: GenerationRequest, cancellation: Cancellation = Cancellation(),
                    onDelta: @escaping @Sendable (String) -> Void = { _ in }, onFinish: @escaping @Sendable (GenerationResult) -> Void) {
            self.request = request; self.cancellation = cancellation; self.onDelta = onDelta; self.onFinish = onFinish
        }
    }

    let generator: Generator
    public let maxBatch: Int
    public let maxQueue: Int
    /// How long a new batch waits for more requests to join.
    public var batchWindow: TimeInterval = 0.005
    private let condition = NSCondition()
    private var queue: [Job] = []
    /// Work on the model other than generation (scoring), run on this thread between batches.
    private var tasks: [(Generator) -> Void] = []
    private var running = 0
    private var stopping = false
    private var thread: Thread?
    /// Batches run so far and the rows they held, and rows stopped because their client left
    /// (for tests and the benchmark).
    public private(set) var batchSizes: [Int] = []
    public private(set) var cancelledRows = 0

    public init(generator: Generator, maxBatch: Int = 16, maxQueue: Int = 64) {
        self.generator = generator
        self.maxBatch = maxBatch
        self.maxQueue = maxQueue
        let t = Thread { [unowned self] in self.loop() }
        t.name = "saro-generation"
        t.stackSize = 16 << 20
        thread = t
        t.start()
    }

    public func submit(_ job: Job) throws {
        condition.lock()
        defer { condition.unlock() }
        if stopping { throw SubmitError.shuttingDown }
        if queue.count >= maxQueue { throw SubmitError.queueFull }
        queue.append(job)
        condition.signal()
    }

    /// Runs `work` with the generator on the scheduler's thread, between batches: the model
    /// and its buffers are used by one thread at a time.
    public func perform<T: Sendable>(_ work: @escaping @Sendable (Generator) -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, Error>) in
            condition.lock()
            defer { condition.unlock() }
            if stopping { c.resume(throwing: SubmitError.shuttingDown); return }
            if queue.count + tasks.count >= maxQueue { c.resume(throwing: SubmitError.queueFull); return }
            tasks.append { c.resume(returning: work($0)) }
            condition.signal()
        }
    }

    /// Stops taking requests, lets the running batch and the queued ones finish, then ends the thread.
    public func shutdown() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !queue.isEmpty || running > 0 { condition.wait() }
        condition.unlock()
    }

    public var queued: Int { condition.lock(); defer { condition.unlock() }; return queue.count }

    private func loop() {
        while true {
            condition.lock()
            while queue.isEmpty && tasks.isEmpty && !stopping { condition.wait() }
            if !tasks.isEmpty {
                let work = tasks
                tasks = []
                condition.unlock()
                for w in work { w(generator) }
                continue
            }
            if queue.isEmpty && stopping { condition.unlock(); return }
            // Requests that arrive together (a client's burst) should share a batch: give the
            // queue a few milliseconds to fill before starting.
            let deadline = Date().addingTimeInterval(batchWindow)
            while queue.count < maxBatch && !stopping && condition.wait(until: deadline) {}
            let jobs = Array(queue.prefix(maxBatch))
            queue.removeFirst(jobs.count)
            running = jobs.count
            batchSizes.append(jobs.count)
            condition.unlock()

            let live = jobs.filter { !$0.cancellation.isCancelled }
            if !live.isEmpty {
                let results = generator.generate(requests: live.map(\.request),
                                                 onToken: { row, _, delta in live[row].onDelta(delta) },
                                                 isCancelled: { live[$0].cancellation.isCancelled })
                for (job, result) in zip(live, results) { job.onFinish(result) }
            }
            for job in jobs where job.cancellation.isCancelled && !live.contains(where: { $0.cancellation === job.cancellation }) {
                job.onFinish(GenerationResult(tokens: [], text: "", finishReason: .stop, promptTokens: job.request.prompt.count))
            }
            condition.lock()
            cancelledRows += jobs.filter { $0.cancellation.isCancelled }.count
            running = 0
            condition.broadcast()
            condition.unlock()
        }
    }
}
