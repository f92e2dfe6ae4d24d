import AltoRuntime
import Foundation
import Hummingbird

/// `POST /api/v1/agent/broker-account`: an agent asks, with its token, for its own broker account, at start and
/// whenever the broker refused the one it had. Each answer carries a new password, so a leaked one lasts until
/// the agent next asks, and the agent's token is the only secret a host keeps.
struct BrokerAccountController: Sendable {
    let accounts: BrokerAccounts?
    let scope: TenantScope

    func add(to router: Router<AltoRequestContext>) {
        router.post("/api/v1/agent/broker-account") { request, context in
            try await issue(request, context)
        }
    }

    func issue(_ request: Request, _ context: AltoRequestContext) async throws -> Response {
        let hostID = try context.agentHost(named: try request.optionalUUIDHeader("X-Alto-Host-Id"))
        let customerID = try context.tenant()
        guard let accounts else {
            throw APIError(.serviceUnavailable, "broker_accounts_off",
                           "this API keeps no broker accounts (ALTO_BROKER_MANAGEMENT_URL is not set)")
        }
        let account = try await scope.audited(context, action: "host.broker_account.issue", target: "host/\(hostID)") { _ in
            try await accounts.issue(customerID: customerID, hostID: hostID, logger: context.logger)
        }
        return try JSONResponse.make(status: .created, account)
    }
}
