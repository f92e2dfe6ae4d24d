import Logging
import PostgresNIO

extension PostgresClient {
    /// `withTransaction`, except that what the closure throws comes out as it was thrown. PostgresNIO wraps it in a
    /// `PostgresTransactionError`; the API's own refusals, and the constraint violations it answers as 400s, must
    /// reach the client as what they are, not as a 500.
    func transaction<Result>(logger: Logger, isolation: isolated (any Actor)? = #isolation,
                             _ body: (PostgresConnection) async throws -> sending Result) async throws -> sending Result {
        do {
            return try await withTransaction(logger: logger, isolation: isolation, body)
        } catch let error as PostgresTransactionError {
            if let thrown = error.closureError { throw thrown }
            throw error
        }
    }
}
