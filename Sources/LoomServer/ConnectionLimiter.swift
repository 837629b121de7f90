import NIOConcurrencyHelpers

/// Open connections per client IP address, shared by every connection of one server, so a
/// single client cannot hold all of the server's sockets (hundreds of idle or trickling
/// connections). Thread-safe: connections live on different event loops.
final class ConnectionLimiter: Sendable {
    /// Connections allowed per address; 0 = no limit.
    let limit: Int
    private let counts = NIOLockedValueBox<[String: Int]>([:])

    init(limit: Int) {
        self.limit = limit
    }

    /// Counts a new connection from `client`; false (and nothing counted) when the client
    /// already has `limit` open.
    func acquire(_ client: String) -> Bool {
        counts.withLockedValue { counts in
            let open = counts[client, default: 0]
            if limit > 0 && open >= limit { return false }
            counts[client] = open + 1
            return true
        }
    }

    /// Forgets one connection of `client` (one that ``acquire(_:)`` counted).
    func release(_ client: String) {
        counts.withLockedValue { counts in
            let open = counts[client, default: 0] - 1
            counts[client] = open > 0 ? open : nil
        }
    }

    /// Connections open from `client` now.
    func openConnections(_ client: String) -> Int {
        counts.withLockedValue { $0[client, default: 0] }
    }
}
