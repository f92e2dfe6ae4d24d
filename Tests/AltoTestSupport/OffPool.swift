import Foundation

/// Runs blocking work, such as waiting for a child process, on a thread of its own. The test process has as many
/// cooperative threads as cores (two here); a test that blocked one while a program ran would stall every other
/// test's timers and health checks for as long.
enum OffPool {
    static func run<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Swift.Result { try body() }) }.start()
        }
    }
}
