import Foundation

/// Whatever answers the API's requests: `alto-api` running as a process, over HTTP, or its router in the test's own
/// process, without a socket. Tests written against this run both ways.
public protocol APIClient: Sendable {
    /// Sends `method path` with `body` and `headers` and returns the status and the body.
    func request(_ method: String, _ path: String, body: Data?, headers: [String: String]) async throws -> (Int, String)
}

extension APIClient {
    /// Signs a user in through `POST /api/v1/sessions`: the status, and the session token when there is one.
    public func signIn(email: String, password: String) async throws -> (status: Int, token: String?) {
        let (status, text) = try await request("POST", "/api/v1/sessions",
                                               body: try JSONSerialization.data(withJSONObject: ["email": email, "password": password]),
                                               headers: ["Content-Type": "application/json"])
        let answer = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        return (status, answer?["token"] as? String)
    }
}
