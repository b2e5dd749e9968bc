import Foundation

extension JobStore {
    /// One value per key: stored values are read back; the missing ones are computed (`compute`
    /// gets their indices into `keys` and delivers each value as it exists, in any order) and
    /// stored the moment they are delivered, so a killed job loses only the work in flight.
    /// Repeated keys are computed once. `started(total, done)` reports what was already stored.
    ///
    /// This is the one "look up, compute what is missing, store, read back" loop: teachers,
    /// policy samples, benign answers and evaluation responses all run through it.
    public func cachedMap<Value: Codable & Sendable>(
        _ namespace: String, keys: [String],
        started: (_ total: Int, _ done: Int) -> Void = { _, _ in },
        compute: (_ missing: [Int], _ deliver: @escaping @Sendable (Int, Value) throws -> Void) async throws -> Void
    ) async throws -> [Value] {
        var firstIndex: [String: Int] = [:]
        for (i, k) in keys.enumerated() where firstIndex[k] == nil { firstIndex[k] = i }
        let present = try self.keys(namespace)
        let missing = firstIndex.values.sorted().filter { !present.contains(keys[$0]) }
        started(firstIndex.count, firstIndex.count - missing.count)
        if !missing.isEmpty {
            let wanted = Set(missing)
            try await compute(missing) { [self] i, value in
                guard wanted.contains(i) else { return }
                try set(value, namespace, keys[i])
            }
        }
        return try keys.map { k in
            guard let v = try get(Value.self, namespace, k) else { throw JobStoreError.missingResult(namespace: namespace, key: k) }
            return v
        }
    }

    /// `cachedMap` in batches: the missing values are computed `batchSize` at a time, in the
    /// order `batchOrder` sorts their indices (similar prompt lengths pad less), and each batch
    /// is stored as it finishes; `advanced` is called with each batch's size.
    public func cachedBatches<Value: Codable & Sendable>(
        _ namespace: String, keys: [String], batchSize: Int,
        batchOrder: ((Int, Int) -> Bool)? = nil,
        started: (_ total: Int, _ done: Int) -> Void = { _, _ in },
        advanced: (Int) -> Void = { _ in },
        compute: (_ batch: [Int]) async throws -> [Value]
    ) async throws -> [Value] {
        try await cachedMap(namespace, keys: keys, started: started) { missing, deliver in
            let ordered = batchOrder.map { missing.sorted(by: $0) } ?? missing
            var start = 0
            while start < ordered.count {
                let batch = Array(ordered[start..<min(ordered.count, start + max(1, batchSize))])
                // A short answer leaves keys undelivered: the read-back names the first of them.
                for (i, v) in zip(batch, try await compute(batch)) { try deliver(i, v) }
                advanced(batch.count)
                start += batch.count
            }
        }
    }
}
