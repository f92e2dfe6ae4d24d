import { useEffect, useRef, useState } from "react";
import { credentials } from "./api";
import type { Notification } from "./models";

/// Follows the notifications WebSocket while the page is open and hands each message to `onMessage`; it
/// reconnects after a drop, a second later and then more slowly. A browser cannot set `Authorization` on a
/// WebSocket, so the token goes as the second subprotocol after `alto.bearer`.
export function useNotifications(onMessage: (notification: Notification) => void): boolean {
  const [connected, setConnected] = useState(false);
  const handler = useRef(onMessage);
  handler.current = onMessage;
  useEffect(() => {
    let socket: WebSocket | null = null;
    let retry: number | undefined;
    let delay = 1000;
    let stopped = false;
    const connect = () => {
      const token = credentials.token();
      if (!token || credentials.tenant()) return;
      const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
      socket = new WebSocket(`${scheme}//${window.location.host}/api/v1/notifications`, ["alto.bearer", token]);
      socket.onopen = () => {
        delay = 1000;
        setConnected(true);
      };
      socket.onmessage = (event: MessageEvent) => {
        try {
          handler.current(JSON.parse(String(event.data)) as Notification);
        } catch {
          // A message that is not JSON is not ours to show.
        }
      };
      socket.onclose = () => {
        setConnected(false);
        if (stopped) return;
        retry = window.setTimeout(connect, delay);
        delay = Math.min(delay * 2, 30000);
      };
    };
    connect();
    return () => {
      stopped = true;
      window.clearTimeout(retry);
      socket?.close();
    };
  }, []);
  return connected;
}
