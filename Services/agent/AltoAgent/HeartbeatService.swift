import AltoModels
import AltoTiering
import AsyncHTTPClient
import Foundation
import Glibc
import Logging
import Metrics
import NIOCore
import ServiceLifecycle

/// Tells the API every `ALTO_AGENT_HEARTBEAT_SECONDS` (60 by default, or what the API answers) that the agent is
/// alive and how full each managed root's file system is, so watermark rules can act before a volume fills. A
/// heartbeat that fails is logged and the next one goes out on time; nothing queues up while the API is away.
struct HeartbeatService: Service {
    let settings: AgentSettings
    let configurationStore: AgentConfigurationStore
    let logger: Logger

    static let agentVersion = "0.4.0"

    struct Answer: Decodable {
        var nextHeartbeatSeconds: Int?
        enum CodingKeys: String, CodingKey {
            case nextHeartbeatSeconds = "next_heartbeat_seconds"
        }
    }

    func run() async throws {
        var interval = settings.heartbeatSeconds
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            Gauge(label: "alto_agent_guard_active").record(OnAccessWatch.isActive ? 1 : 0)
            if let next = await send() {
                interval = max(5, next)
                Counter(label: "alto_agent_heartbeats_total", dimensions: [("result", "sent")]).increment()
                Gauge(label: "alto_agent_last_heartbeat_timestamp_seconds").record(Date().timeIntervalSince1970)
            } else {
                Counter(label: "alto_agent_heartbeats_total", dimensions: [("result", "failed")]).increment()
            }
            let pause = Duration.seconds(interval)
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pause) }
        }
    }

    /// The managed roots, each with the totals of the file system it lives on; a root that cannot be read is left
    /// out (and logged) rather than reported empty.
    func volumes() -> [ManagedVolume] {
        let roots = (try? configurationStore.load())?.managedRoots ?? settings.scanRoots
        return roots.compactMap { root in
            var stats = statvfs()
            guard statvfs(root, &stats) == 0 else {
                logger.warning("a managed root cannot be measured", metadata: ["root": "\(root)", "errno": "\(errno)"])
                return nil
            }
            let blockSize = Int64(stats.f_frsize)
            let total = Int64(stats.f_blocks) * blockSize
            return ManagedVolume(mountPoint: root, totalBytes: total,
                                 usedBytes: min(total, (Int64(stats.f_blocks) - Int64(stats.f_bfree)) * blockSize))
        }
    }

    /// - Returns: the interval the API asks for, or nil when the heartbeat did not get through.
    private func send() async -> Int? {
        let heartbeat = AgentHeartbeat(agentVersion: Self.agentVersion, volumes: volumes())
        do {
            var request = HTTPClientRequest(url: settings.apiURL + "/api/v1/hosts/\(settings.hostID.uuidString.lowercased())/heartbeat")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(settings.token)")
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "X-Alto-Customer-Id", value: settings.customerID.uuidString.lowercased())
            request.body = .bytes(ByteBuffer(bytes: try AltoJSON.encoder().encode(heartbeat)))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            let body = try await response.body.collect(upTo: 1 << 20)
            guard response.status == .ok else {
                logger.warning("the API refused a heartbeat", metadata: ["status": "\(response.status.code)", "body": "\(String(buffer: body))"])
                return nil
            }
            return try AltoJSON.decoder().decode(Answer.self, from: Data(body.readableBytesView)).nextHeartbeatSeconds
        } catch {
            logger.warning("heartbeat failed", metadata: ["error": "\(error)"])
            return nil
        }
    }
}
