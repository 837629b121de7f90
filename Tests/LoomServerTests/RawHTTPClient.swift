import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A minimal HTTP/1.1 client over a blocking loopback socket, so tests control exactly
/// when bytes are read and when the connection is dropped (mid-stream disconnects).
/// Every request uses `Connection: close`; bodies may be chunked or sized.
final class RawHTTPClient {
    struct Reply {
        let status: Int
        let headers: [String: String]
        let body: Data
        var text: String { String(decoding: body, as: UTF8.self) }
        func json() throws -> [String: Any] {
            guard let object = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
                throw NSError(domain: "RawHTTPClient", code: 1, userInfo: [NSLocalizedDescriptionKey: "not a JSON object: \(text)"])
            }
            return object
        }
        /// The `data:` payloads of a server-sent-event body, in order.
        var events: [String] {
            text.components(separatedBy: "\n\n").compactMap { block in
                block.hasPrefix("data: ") ? String(block.dropFirst(6)) : nil
            }
        }
    }

    let port: Int
    init(port: Int) { self.port = port }

    /// Opens a connection and sends one request; returns the socket.
    func open(_ method: String, _ path: String, body: Data? = nil, headers: [String: String] = [:]) throws -> Int32 {
        let fd = try connectSocket()
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n" }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if let body { bytes += Array(body) }
        do { try Self.sendAll(fd, bytes) } catch { close(fd); throw error }
        return fd
    }

    /// Sends every byte (blocking).
    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw NSError(domain: "send", code: Int(errno)) }
            sent += n
        }
    }

    /// Reads until the server closes or `timeout` seconds pass; `closed` tells which.
    static func readUntilClose(_ fd: Int32, timeout: TimeInterval) -> (bytes: [UInt8], closed: Bool) {
        let deadline = Date().addingTimeInterval(timeout)
        var all: [UInt8] = []
        while true {
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return (all, false) }
            var tv = timeval()
            tv.tv_sec = Int(left)
            tv.tv_usec = .init(max(1, (left - left.rounded(.down)) * 1e6))  // 0 would mean "block forever"
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            var buffer = [UInt8](repeating: 0, count: 65536)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { all += buffer[..<n]; continue }
            if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) { return (all, true) }
        }
    }

    /// A connected loopback socket to the server.
    func connectSocket() throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw NSError(domain: "socket", code: Int(errno)) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { close(fd); throw NSError(domain: "connect", code: Int(errno)) }
        return fd
    }

    /// Reads up to `count` bytes (blocking); empty at end of stream.
    static func read(_ fd: Int32, count: Int = 65536) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, count, 0) }
        return n > 0 ? Array(buffer[..<n]) : []
    }

    /// Sends a request and reads the whole reply.
    func request(_ method: String, _ path: String, json: Any? = nil, raw: String? = nil, headers: [String: String] = [:]) throws -> Reply {
        var body: Data?
        if let json { body = try JSONSerialization.data(withJSONObject: json) }
        if let raw { body = Data(raw.utf8) }
        let fd = try open(method, path, body: body, headers: headers)
        defer { close(fd) }
        var all: [UInt8] = []
        while true {
            let chunk = Self.read(fd)
            if chunk.isEmpty { break }
            all += chunk
        }
        return try Self.parse(all)
    }

    func post(_ path: String, _ json: Any, headers: [String: String] = [:]) throws -> Reply {
        try request("POST", path, json: json, headers: headers)
    }

    func get(_ path: String, headers: [String: String] = [:]) throws -> Reply {
        try request("GET", path, headers: headers)
    }

    static func parse(_ bytes: [UInt8]) throws -> Reply {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = (0..<max(0, bytes.count - 3)).first(where: { Array(bytes[$0..<$0 + 4]) == separator }) else {
            throw NSError(domain: "RawHTTPClient", code: 2, userInfo: [NSLocalizedDescriptionKey: "no header end in \(bytes.count) bytes"])
        }
        let lines = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ")[1]) ?? 0
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(bytes[(end + 4)...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" { body = dechunk(body) }
        return Reply(status: status, headers: headers, body: Data(body))
    }

    static func dechunk(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            var j = i
            while j + 1 < bytes.count && !(bytes[j] == 13 && bytes[j + 1] == 10) { j += 1 }
            let sizeText = String(decoding: bytes[i..<j], as: UTF8.self).split(separator: ";").first.map(String.init) ?? "0"
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size > 0 else { break }
            let start = j + 2
            guard start + size <= bytes.count else { out += bytes[start...]; break }
            out += bytes[start..<start + size]
            i = start + size + 2
        }
        return out
    }
}
