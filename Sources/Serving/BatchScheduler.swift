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
    /// The rows decoding together each time requests joined the batch, and rows stopped because
    /// their client left (for tests and the benchmark).
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
            running = 1
            condition.unlock()

            // Requests arriving while others decode join the batch as places free up.
            let feed = Feed(self)
            generator.generate(feed: feed, width: maxBatch,
                               onToken: { key, _, delta in feed.jobs[key]!.onDelta(delta) },
                               isCancelled: { feed.jobs[$0]!.cancellation.isCancelled },
                               finished: { key, result in feed.finish(key, result) })
            condition.lock()
            running = 0
            condition.broadcast()
            condition.unlock()
        }
    }

    /// The scheduler's queue as the generator's feed: it hands over waiting jobs while no
    /// scoring task waits (the batch then drains, and the task runs before the next one).
    private final class Feed: RequestFeed {
        unowned let scheduler: BatchScheduler
        /// The jobs taken and not yet finished, by key (used on the scheduler's thread only).
        var jobs: [Int: Job] = [:]
        private var nextKey = 0
        private var running = 0
        init(_ scheduler: BatchScheduler) { self.scheduler = scheduler }

        var hasWaiting: Bool {
            scheduler.condition.lock(); defer { scheduler.condition.unlock() }
            return scheduler.tasks.isEmpty && !scheduler.queue.isEmpty
        }

        func take(_ n: Int) -> [(key: Int, request: GenerationRequest)] {
            scheduler.condition.lock()
            var taken: [Job] = []
            if scheduler.tasks.isEmpty {
                taken = Array(scheduler.queue.prefix(n))
                scheduler.queue.removeFirst(taken.count)
            }
            // A job whose client left while it waited is finished without generating.
            let gone = taken.filter { $0.cancellation.isCancelled }
            let live = taken.filter { !$0.cancellation.isCancelled }
            scheduler.cancelledRows += gone.count
            if !live.isEmpty { scheduler.batchSizes.append(running + live.count) }
            scheduler.condition.unlock()
            for job in gone { job.onFinish(GenerationResult(tokens: [], text: "", finishReason: .stop, promptTokens: job.request.prompt.count)) }
            running += live.count
            return live.map { job in
                defer { nextKey += 1 }
                jobs[nextKey] = job
                return (nextKey, job.request)
            }
        }

        func finish(_ key: Int, _ result: GenerationResult) {
            let job = jobs.removeValue(forKey: key)!
            running -= 1
            if job.cancellation.isCancelled {
                scheduler.condition.lock(); scheduler.cancelledRows += 1; scheduler.condition.unlock()
            }
            job.onFinish(result)
        }
    }
}
