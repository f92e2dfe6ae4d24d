import AltoModels
import Foundation
import Hummingbird
import Synchronization

/// Receives an upload's body onto local disk while the inspector checks it, under two clocks: a client that sends
/// nothing for `idleTimeout`, or has not finished after `deadline`, is answered 408 and its body abandoned. A body
/// the inspector refuses is still read to its end (within the same limits) and thrown away, so the client that is
/// sending it gets the answer instead of a reset connection.
struct UploadReceiver: Sendable {
    let limits: APILimits

    func receive(_ body: RequestBody, compression: IngestJob.Compression) async throws -> SpooledUpload {
        let progress = Progress()
        return try await withThrowingTaskGroup(of: SpooledUpload?.self) { group in
            group.addTask { try await spool(body, compression: compression, progress: progress) }
            group.addTask {
                try await watch(progress)
                return nil
            }
            defer { group.cancelAll() }
            while let finished = try await group.next() {
                if let finished { return finished }
            }
            throw CancellationError()
        }
    }

    private func spool(_ body: RequestBody, compression: IngestJob.Compression, progress: Progress) async throws -> SpooledUpload {
        var inspector = try UploadInspector(compression: compression, maximumCSVBytes: limits.maximumCSVBytes)
        var writer = try SpooledUpload.Writer(folder: limits.spoolFolder)
        var total = 0
        var refusal: (any Error)?
        for try await piece in body {
            progress.arrived()
            total += piece.readableBytes
            guard total <= limits.maximumUploadBytes else { throw limits.tooLarge }
            guard refusal == nil else { continue }
            do {
                try inspector.inspect(piece)
                try writer.append(piece)
            } catch let error as APIError {
                refusal = error
            }
        }
        if let refusal { throw refusal }
        try inspector.finish()
        return writer.finish(csvBytes: inspector.csvBytes, kind: inspector.kind)
    }

    /// Returns only when cancelled, which is when the body has been received; throws when a clock runs out.
    private func watch(_ progress: Progress) async throws {
        let started = ContinuousClock.now
        while true {
            try await Task.sleep(for: .milliseconds(250))
            let now = ContinuousClock.now
            if now - progress.last > limits.uploadIdleTimeout {
                throw APIError(.requestTimeout, "upload_timeout",
                               "no bytes of the batch came for \(limits.uploadIdleTimeout); send it again")
            }
            if now - started > limits.uploadDeadline {
                throw APIError(.requestTimeout, "upload_timeout",
                               "the batch did not arrive within \(limits.uploadDeadline); send smaller batches or send it again")
            }
        }
    }

    /// When the last piece of the body came.
    private final class Progress: Sendable {
        private let instant = Mutex(ContinuousClock.now)
        func arrived() { instant.withLock { $0 = ContinuousClock.now } }
        var last: ContinuousClock.Instant { instant.withLock { $0 } }
    }
}
