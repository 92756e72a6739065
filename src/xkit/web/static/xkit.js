/**
 * xkit.js — the browser SDK of xkit: let your users connect their accounts from your web app.
 *
 * Plain JavaScript, no build step, no dependencies. Load it from your xkit server:
 *
 *     <script src="https://xkit.example.com/p/acme/xkit.js"></script>
 *     <script>
 *       xkit.login(async () => (await fetch("/api/xkit-token")).text());
 *       xkit.renderCatalog(document.getElementById("integrations"));
 *     </script>
 *
 * or, when the platform registered your login system as a JWT issuer, with the JWT your app
 * already has: `xkit.login({userJwt: () => myAuth.getIdToken()})`.
 *
 * Loaded from `{base}/xkit.js`, it already knows its base URL (`{public}/p/{platform}`); call
 * `xkit.init(baseUrl)` only when you serve it from somewhere else. See docs/xkit-js.md.
 *
 * Security notes, because this file runs inside other people's pages:
 * - The context token travels only in an `Authorization` header, never in a URL.
 * - Messages from the popup are accepted only from xkit's origin, with the expected type and
 *   authorization id.
 * - Nothing received from the server is ever parsed as HTML: the catalog builds DOM nodes and
 *   sets `textContent`, and Markdown descriptions go through a small renderer that does the
 *   same (links only to http and https).
 */
(function (global) {
  "use strict";

  const doc = global.document;
  const SCRIPT = doc && doc.currentScript;
  /** The nonce of our own <script> tag: reused for the catalog's <style> under a strict CSP. */
  const SCRIPT_NONCE = SCRIPT ? SCRIPT.nonce || SCRIPT.getAttribute("nonce") || "" : "";
  const MESSAGE_TYPE = "xkit:authorization";
  const FINAL_STATUSES = new Set(["active", "error"]);
  /** Browser API error codes after which a token function is asked for a new token. */
  const RENEWABLE_CODES = new Set(["context_token_expired", "invalid_context_token"]);
  const TICK_MS = 400;
  const STATUS_POLL_MS = 2000;
  /** How long to wait for a closed popup's authorization to settle (retrieving tokens). */
  const SETTLE_MS = 60000;
  const EXPIRY_SKEW_MS = 5000;
  /** Codes after which the catalog tells the end user it is not set up for this site. */
  const NOT_SET_UP_CODES = new Set(["origin_not_allowed", "platform_not_found"]);
  /** More connectors than this and the catalog offers a category filter. */
  const CATEGORY_FILTER_MIN = 6;

  // --- errors -------------------------------------------------------------------------------

  /**
   * Every rejection from xkit.js is an XkitError with a stable `code`:
   * the browser API's codes (`connector_not_found`, `context_token_expired`, ...), the
   * provider's or the flow's (`cancelled`, `access_denied`, `AADSTS65004`,
   * `different_account`, ...), and a few of our own (`popup_blocked`, `network_error`,
   * `origin_not_allowed`, `not_initialized`, `not_logged_in`). `message` is plain text an
   * end user can read; `developerMessage`, where present, says what the developer must fix.
   */
  class XkitError extends Error {
    /**
     * @param {string} code
     * @param {string} [message]
     * @param {object} [extra] e.g. `status` (HTTP), `connection`, `authorization`
     */
    constructor(code, message, extra) {
      super(message || code);
      this.name = "XkitError";
      this.code = code;
      Object.assign(this, extra || {});
    }
  }

  // --- small helpers --------------------------------------------------------------------------

  const enc = encodeURIComponent;

  /** Whether a JWT's `exp` is in the past (with a few seconds' margin). Not a JWT: false. */
  function tokenExpired(token) {
    try {
      const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const claims = JSON.parse(global.atob(part + "===".slice((part.length + 3) % 4)));
      return typeof claims.exp === "number" && claims.exp * 1000 < Date.now() + EXPIRY_SKEW_MS;
    } catch (_) {
      return false;
    }
  }

  function newId() {
    if (global.crypto && global.crypto.randomUUID) return global.crypto.randomUUID();
    const bytes = global.crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  function idOf(connection) {
    const id = typeof connection === "string" ? connection : connection && connection.id;
    if (!id) throw new XkitError("invalid_argument", "pass a connection (or its id)");
    return id;
  }

  /** Open the popup centred over the window. Must run synchronously inside the click. */
  function openPopup(url) {
    const width = 520;
    const height = 720;
    const left = Math.max(0, (global.screenX || 0) + ((global.outerWidth || width) - width) / 2);
    const top = Math.max(0, (global.screenY || 0) + ((global.outerHeight || height) - height) / 2);
    return global.open(url, `xkit-connect-${Date.now()}`,
      `popup=yes,width=${width},height=${height},left=${Math.round(left)},top=${Math.round(top)}`);
  }

  function flowError(authorization, connection) {
    return new XkitError(
      authorization.error_code || "authorization_failed",
      authorization.error_message || "The connection did not complete. Please try again.",
      { authorization, connection });
  }

  /**
   * Whether a connection ever worked (it had tokens). A first attempt that was cancelled or
   * refused is not "broken": there is nothing to reconnect.
   * @param {object} connection
   */
  function wasEstablished(connection) {
    const a = connection && connection.authorization;
    return !!a && (a.status === "active" || !!a.display_label || (a.granted_scopes || []).length > 0);
  }

  /**
   * How a connection looks in the catalog: `connected`, `attention` (it worked once and is
   * now broken: reconnect) or `idle` (never completed).
   */
  function connectionState(connection) {
    if (connection.status === "connected") return "connected";
    if (connection.status === "error" && wasEstablished(connection)) return "attention";
    return "idle";
  }

  // --- the client -----------------------------------------------------------------------------

  /**
   * One xkit client. `window.xkit` is an instance; `new xkit.Xkit()` makes another (say, for
   * a second platform on the same page).
   */
  class Xkit {
    constructor() {
      /** `{public}/p/{platform}`, without a trailing slash. */
      this.baseUrl = null;
      /** xkit's origin: the only origin popup messages are accepted from. */
      this.origin = null;
      /** What `GET /session` said after the last successful login. */
      this.session = null;
      this._token = null;
      this._tokenSource = null;
      this._renewal = null;
      this._listeners = new Map();
      /** Why the last `login` failed, until one succeeds. */
      this.loginError = null;
      this._originCheck = null;
      this._explained = new Set();  // developer messages already in the console
      this._resetReady();
      this.XkitError = XkitError;
    }

    _resetReady() {
      /** Resolves with the session once `login` succeeded. */
      this.ready = new Promise((resolve) => { this._markReady = resolve; });
    }

    /**
     * Point the client at an xkit platform.
     * @param {string} baseUrl `https://xkit.example.com/p/acme` (a trailing `/xkit.js` is ignored)
     * @returns {Xkit}
     */
    init(baseUrl) {
      const url = new URL(String(baseUrl), global.location.href);
      url.hash = "";
      url.search = "";
      url.pathname = url.pathname.replace(/\/xkit\.js$/, "").replace(/\/+$/, "");
      this.baseUrl = url.href.replace(/\/+$/, "");
      this.origin = url.origin;
      this._emit("config:update", { baseUrl: this.baseUrl, loggedIn: this.loggedIn });
      return this;
    }

    /** Whether a token (or a function to get one) is set. */
    get loggedIn() {
      return !!(this._token || this._tokenSource);
    }

    /**
     * Sign in as one context. Give either a context token (a string your backend got from
     * `POST /api/platform/contexts`) or a function returning one (or a promise of one); the
     * function is called again whenever the token has expired, so prefer it.
     *
     * Or sign in with your app's own user JWT, from an issuer the platform registered
     * (docs/xkit-js.md, "Log in with your app's own JWT"): `{userJwt: jwtOrFunction}`. xkit
     * checks it and answers with a context token for the JWT's user; no backend call. A
     * function is called again for a fresh JWT whenever that context token has expired.
     * @param {string | (() => string | Promise<string>) | {userJwt: string | (() => string | Promise<string>)}} tokenOrFunction
     * @returns {Promise<object>} the session: `{platform, context}`
     */
    async login(tokenOrFunction) {
      this._requireBase();
      if (tokenOrFunction && typeof tokenOrFunction === "object" && "userJwt" in tokenOrFunction) {
        const userJwt = tokenOrFunction.userJwt;
        if (typeof userJwt !== "function" && !(typeof userJwt === "string" && userJwt)) {
          throw new XkitError("invalid_argument", "userJwt must be a JWT or a function returning one");
        }
        this._tokenSource = () => this._exchangeUserJwt(userJwt);
        this._token = null;
      } else if (typeof tokenOrFunction === "function") {
        this._tokenSource = tokenOrFunction;
        this._token = null;
      } else if (typeof tokenOrFunction === "string" && tokenOrFunction) {
        this._tokenSource = null;
        this._token = tokenOrFunction;
      } else {
        throw new XkitError("invalid_argument", "login takes a context token, a function returning one, or {userJwt}");
      }
      let session;
      try {
        session = await this._api("GET", "/session");
      } catch (error) {
        // Catalogs waiting for this login show why instead of loading forever.
        this.loginError = error;
        this._emit("config:update", { baseUrl: this.baseUrl, loggedIn: this.loggedIn, error });
        throw error;
      }
      this.loginError = null;
      this.session = session;
      this._markReady(session);
      this._emit("config:update", { baseUrl: this.baseUrl, loggedIn: true, session });
      return session;
    }

    /**
     * Trade the app's user JWT for a context token (`POST /session`). A refusal is the
     * developer's to fix (an issuer not registered, a wrong audience, an expired JWT …), so
     * its message goes to the console too, with its code.
     */
    async _exchangeUserJwt(userJwt) {
      const jwt = typeof userJwt === "function" ? await userJwt() : userJwt;
      if (typeof jwt !== "string" || !jwt) {
        throw new XkitError("invalid_argument", "the userJwt function returned no JWT");
      }
      let response;
      try {
        response = await global.fetch(`${this.baseUrl}/api/platform_user/session`, {
          method: "POST", body: JSON.stringify({ user_jwt: jwt }),
          headers: { Accept: "application/json", "Content-Type": "application/json" },
          credentials: "omit", cache: "no-store",
        });
      } catch (error) {
        throw await this._unreachable(error);
      }
      let data = null;
      try {
        data = await response.json();
      } catch (_) {
        data = null;
      }
      if (response.ok && data && typeof data.access_token === "string") return data.access_token;
      const problem = (data && data.error) || {};
      const code = problem.code || `http_${response.status}`;
      const message = problem.message || `xkit answered ${response.status}`;
      if (global.console) global.console.error(`xkit: signing in with the user JWT failed (${code}): ${message}`);
      throw new XkitError(code, message, { status: response.status, details: problem.details });
    }

    /** Forget the token (and the function). Catalogs on the page show a signed-out state. */
    logout() {
      this._token = null;
      this._tokenSource = null;
      this.session = null;
      this._resetReady();
      this._emit("config:update", { baseUrl: this.baseUrl, loggedIn: false });
    }

    // --- events

    /**
     * Listen to `connection:enable` (a connect or reconnect finished: the connection),
     * `connection:remove` (a connection was removed: the connection), `config:update`
     * (init, login or logout: `{baseUrl, loggedIn, session?}`; a failed login adds `error`),
     * `catalog:open` (`openCatalog`: `{connector}`) or `catalog:close` (`{reason,
     * connector, connection}`).
     * @param {string} event
     * @param {(detail: any) => void} listener
     */
    on(event, listener) {
      if (!this._listeners.has(event)) this._listeners.set(event, new Set());
      this._listeners.get(event).add(listener);
      return this;
    }

    /** Stop listening. */
    off(event, listener) {
      const set = this._listeners.get(event);
      if (set) set.delete(listener);
      return this;
    }

    _emit(event, detail) {
      for (const listener of Array.from(this._listeners.get(event) || [])) {
        try {
          listener(detail);
        } catch (error) {
          setTimeout(() => { throw error; });  // report it, but keep notifying the others
        }
      }
    }

    // --- reading

    /** The platform: `{slug, name, branding}`. */
    getPlatform() {
      return this._api("GET", "/platform");
    }

    /** The catalog's connectors (enabled and set up), each without connections. */
    async listConnectors() {
      return (await this._api("GET", "/connectors")).connectors;
    }

    /** One connector with this context's `connections`. */
    getConnector(slug) {
      return this._api("GET", `/connectors/${enc(slug)}`);
    }

    /**
     * This context's connections.
     * @param {{connector?: string}} [options] only those of one connector
     */
    async listConnections(options) {
      const connector = options && options.connector;
      const query = connector ? `?connector=${enc(connector)}` : "";
      return (await this._api("GET", `/connections${query}`)).connections;
    }

    /**
     * One connection: `{id}` exactly (rejects with `connection_not_found`), or `{slug}` — the
     * connector's healthiest connection, or `null` when there is none.
     * @param {{id?: string, slug?: string}} query
     */
    async getConnection(query) {
      if (query && query.id) return this._api("GET", `/connections/${enc(query.id)}`);
      if (!query || !query.slug) throw new XkitError("invalid_argument", "pass {id} or {slug}");
      const found = await this.listConnections({ connector: query.slug });
      const rank = { connected: 0, attention: 1, idle: 2 };
      found.sort((a, b) => rank[connectionState(a)] - rank[connectionState(b)]);
      return found[0] || null;
    }

    // --- connecting

    /**
     * Connect a connector: opens the popup (call it from a click handler), lets the user sign
     * in at the provider and resolves with the connection once it is active. For a connector
     * with one connection per context, connecting again reconnects the existing one.
     *
     * Rejects with an XkitError: `cancelled` (the popup was closed), `popup_blocked`, the
     * provider's refusal (`access_denied`, `AADSTS65004`, ...) with a readable message.
     *
     * @param {string} slug the connector's slug
     * @param {{mode?: "popup" | "redirect", returnUrl?: string}} [options] `mode: "redirect"`
     *   navigates this page instead of opening a popup (webviews, mobile); the provider sends
     *   the user back to `returnUrl` (default: this page), where `handleRedirect()` reads the
     *   result. The return URL must be on one of the platform's allowed origins.
     * @returns {Promise<object>} the connection
     */
    connect(slug, options) {
      return this._flow(() => this._api("POST", "/connections", { connector: slug }), options);
    }

    /**
     * Add one more connection to a connector that allows several per context (another
     * account). On a connector that allows one, it behaves like `connect`.
     * @param {string} slug
     * @param {{mode?: "popup" | "redirect", returnUrl?: string}} [options]
     */
    addConnection(slug, options) {
      return this._flow(() => this._api("POST", "/connections", { connector: slug, id: newId() }),
        options);
    }

    /**
     * Sign in again on an existing connection (it broke, or needs new permissions). The user
     * must choose the same account: another one is refused with `different_account`, and the
     * connection keeps working with the original account.
     * @param {object | string} connection a connection or its id
     * @param {{mode?: "popup" | "redirect", returnUrl?: string}} [options]
     */
    reconnect(connection, options) {
      let id;
      try {
        id = idOf(connection);
      } catch (error) {
        return Promise.reject(error);
      }
      return this._flow(() => this._api("POST", `/connections/${enc(id)}/reconnect`), options);
    }

    /**
     * Remove a connection, or every connection of a connector when given its slug.
     * @param {object | string} connectionOrSlug a connection object, or a connector slug
     */
    async disconnect(connectionOrSlug) {
      if (typeof connectionOrSlug !== "string") return this.removeConnection(connectionOrSlug);
      for (const connection of await this.listConnections({ connector: connectionOrSlug })) {
        await this.removeConnection(connection);
      }
    }

    /**
     * Remove one connection (its credentials are deleted at xkit).
     * @param {object | string} connection a connection or its id
     */
    async removeConnection(connection) {
      const id = idOf(connection);
      await this._api("DELETE", `/connections/${enc(id)}`);
      this._emit("connection:remove", typeof connection === "string" ? { id } : connection);
    }

    /**
     * After a redirect-mode connect, on the return page: read the result from the URL
     * (`xkit_authorization`, `xkit_status`), remove it from the address bar, and resolve with
     * the connection (or reject with the flow's error). Resolves `null` when the URL carries
     * no result. Call it after `login`.
     */
    async handleRedirect() {
      const url = new URL(global.location.href);
      const id = url.searchParams.get("xkit_authorization");
      if (!id) return null;
      url.searchParams.delete("xkit_authorization");
      url.searchParams.delete("xkit_status");
      global.history.replaceState(global.history.state, "", url.href);
      const authorization = await this._api("GET", `/authorizations/${enc(id)}`);
      if (authorization.status !== "active") throw flowError(authorization, null);
      const connection = await this.getConnection({ id: authorization.connection_id });
      this._emit("connection:enable", connection);
      return connection;
    }

    async _flow(begin, options) {
      options = options || {};
      this._requireBase();
      const redirect = options.mode === "redirect";
      // Before anything asynchronous: a popup opened later is blocked by the browser.
      const popup = redirect ? null : openPopup(`${this.baseUrl}/authorizations/loading`);
      if (!redirect && !popup) {
        throw new XkitError("popup_blocked",
          "Your browser blocked the sign-in window. Allow pop-ups for this site and try again.");
      }
      try {
        const connection = await begin();
        const authorization = connection.authorization;
        const link = await this._api("POST", `/authorizations/${enc(authorization.id)}/popup`);
        if (redirect) {
          const back = new URL(options.returnUrl || global.location.href, global.location.href);
          global.location.assign(`${link.url}&return_url=${enc(back.href)}`);
          return new Promise(() => {});  // this page is going away
        }
        if (popup.closed) return await this._settle(connection);
        popup.location.href = `${link.url}&opener_origin=${enc(global.location.origin)}`;
        return await this._watch(popup, connection);
      } catch (error) {
        if (popup && !popup.closed) popup.close();
        throw error;
      }
    }

    /** Wait for the popup's message, or learn the outcome by polling the authorization. */
    _watch(popup, connection) {
      const authorizationId = connection.authorization.id;
      return new Promise((resolve, reject) => {
        let finished = false;
        let busy = false;
        let lastPoll = Date.now();
        const finish = (promise) => {
          if (finished) return;
          finished = true;
          clearInterval(timer);
          global.removeEventListener("message", onMessage);
          promise.then(resolve, reject).finally(() => { if (!popup.closed) popup.close(); });
        };
        const onMessage = (event) => {
          const data = event.data;
          if (event.origin !== this.origin || !data || data.type !== MESSAGE_TYPE) return;
          if (!data.authorization || data.authorization.id !== authorizationId) return;
          finish(this._outcome(data.authorization, connection));
        };
        const tick = () => {
          if (finished || busy) return;
          if (popup.closed) {
            busy = true;
            finish(this._settle(connection));
            return;
          }
          if (Date.now() - lastPoll < STATUS_POLL_MS) return;
          busy = true;
          lastPoll = Date.now();
          this._api("GET", `/authorizations/${enc(authorizationId)}`).then((authorization) => {
            busy = false;
            if (FINAL_STATUSES.has(authorization.status)) finish(this._outcome(authorization, connection));
          }, () => { busy = false; });  // a failed poll is retried on the next tick
        };
        global.addEventListener("message", onMessage);
        const timer = setInterval(tick, TICK_MS);
      });
    }

    /**
     * The popup is gone: if the provider never answered, cancel; if tokens are being
     * retrieved right now, wait for the result.
     */
    async _settle(connection) {
      const path = `/authorizations/${enc(connection.authorization.id)}`;
      const deadline = Date.now() + SETTLE_MS;
      for (;;) {
        let authorization = await this._api("GET", path);
        if (authorization.status === "awaiting_callback") {
          authorization = await this._api("POST", `${path}/cancel`);
        }
        if (FINAL_STATUSES.has(authorization.status)) return this._outcome(authorization, connection);
        if (Date.now() > deadline) {
          throw new XkitError("timeout", "The connection is taking too long. Please try again.");
        }
        await new Promise((r) => setTimeout(r, 1000));
      }
    }

    async _outcome(authorization, connection) {
      if (authorization.status !== "active") throw flowError(authorization, connection);
      const fresh = await this.getConnection({ id: connection.id });
      // Connected, short of something the developer should fix (`no_refresh_token`): the
      // connection carries it in `authorization.warnings`; the console says it once too.
      const warnings = (fresh && fresh.authorization && fresh.authorization.warnings) || [];
      for (const warning of warnings) {
        if (global.console) global.console.warn(`xkit: ${warning.code}: ${warning.message}`);
      }
      this._emit("connection:enable", fresh);
      return fresh;
    }

    // --- HTTP

    _requireBase() {
      if (!this.baseUrl) {
        throw new XkitError("not_initialized",
          "call xkit.init('https://your-xkit/p/your-platform') first");
      }
    }

    async _currentToken() {
      if (this._token && !(this._tokenSource && tokenExpired(this._token))) return this._token;
      if (this._tokenSource) return this._renewToken();
      throw new XkitError("not_logged_in", "call xkit.login(token or function) first");
    }

    /** Ask the login function for a new token; concurrent callers share one call. */
    _renewToken() {
      if (!this._renewal) {
        const source = this._tokenSource;
        this._renewal = Promise.resolve()
          .then(() => source())
          .then((token) => {
            if (typeof token !== "string" || !token) {
              throw new XkitError("invalid_context_token", "the login function returned no token");
            }
            if (this._tokenSource === source) this._token = token;
            return token;
          })
          .finally(() => { this._renewal = null; });
      }
      return this._renewal;
    }

    /** Call the browser API; a token the server calls expired is renewed once and retried. */
    async _api(method, path, body, retried) {
      this._requireBase();
      const token = await this._currentToken();
      const headers = { Accept: "application/json", Authorization: `Bearer ${token}` };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      let response;
      try {
        response = await global.fetch(`${this.baseUrl}/api/platform_user${path}`, {
          method, headers, body: body === undefined ? undefined : JSON.stringify(body),
          credentials: "omit", cache: "no-store",
        });
      } catch (error) {
        throw await this._unreachable(error);
      }
      if (response.status === 204) return null;
      let data = null;
      try {
        data = await response.json();
      } catch (_) {
        data = null;
      }
      if (response.ok) return data;
      const problem = (data && data.error) || {};
      const code = problem.code || `http_${response.status}`;
      if (response.status === 401 && RENEWABLE_CODES.has(code) && this._tokenSource && !retried) {
        if (this._token === token) this._token = null;
        return this._api(method, path, body, true);
      }
      throw new XkitError(code, problem.message || `xkit answered ${response.status}`,
        { status: response.status, details: problem.details });
    }

    /**
     * A call failed without an answer. To the page, a refused CORS preflight (this page's
     * origin is not allowed) looks exactly like a network failure, so ask xkit's origin probe
     * (readable from any origin, no credentials) which one it was.
     */
    async _unreachable(cause) {
      const refusal = await this._checkOrigin();
      return refusal || new XkitError("network_error",
        "xkit could not be reached. Check your connection and try again.", { cause });
    }

    /**
     * Resolves with an XkitError when this page may not use the platform (and logs the fix
     * to the console, once per client), or `null`. Calls failing together share one probe;
     * the next failure asks again (the origin may have been allowed since).
     */
    _checkOrigin() {
      if (this._originCheck) return this._originCheck;
      const check = global.fetch(`${this.baseUrl}/api/platform_user/origin`, {
        headers: { Accept: "application/json" }, credentials: "omit", cache: "no-store",
      }).then((response) => response.json()).then((data) => {
        const platform = this.baseUrl.replace(/^.*\/p\//, "");
        let developerMessage = null;
        let code = "origin_not_allowed";
        if (data && data.allowed === false) {
          developerMessage = `xkit: this page's origin ${data.origin} is not allowed to use ` +
            `platform "${data.platform}", so xkit refused its calls. Add ${data.origin} to the ` +
            "platform's allowed web origins (xkit dashboard → the platform's Settings → " +
            "Allowed web origins), then reload.";
        } else if (data && data.error && data.error.code === "platform_not_found") {
          code = "platform_not_found";
          developerMessage = `xkit: there is no platform "${platform}" at ${this.baseUrl}. ` +
            "Check the platform slug in the URL xkit.js is loaded from (or given to xkit.init).";
        }
        if (!developerMessage) return null;
        if (global.console && !this._explained.has(developerMessage)) global.console.error(developerMessage);
        this._explained.add(developerMessage);
        return new XkitError(code, "This catalog isn't set up for this site.",
          { origin: data.origin || global.location.origin, platform, developerMessage });
      }).catch(() => null);
      this._originCheck = check;
      check.then(() => { if (this._originCheck === check) this._originCheck = null; });
      return check;
    }

    // --- the catalog

    /**
     * Render the catalog into `element` (inside a shadow root, so your page's CSS and ours
     * stay apart). Waits for `login`.
     *
     * @param {Element} element where to render
     * @param {object} [options]
     * @param {string} [options.title] heading (default "Integrations"; "" for none)
     * @param {boolean} [options.search] show the search box (default true)
     * @param {string[] | string} [options.connectors] only these connector slugs
     * @param {object} [options.theme] CSS custom properties, e.g.
     *   `{"--xkit-primary": "#0b7285", "--xkit-radius": "4px"}` (the `--xkit-` prefix may be left out)
     * @param {string} [options.connector] open this connector's page first
     * @param {(slug: string | null) => void} [options.onNavigate] called when the user opens
     *   a connector (its slug) or goes back to the list (`null`)
     * @param {string} [options.nonce] a CSP nonce for the catalog's <style> (default: the
     *   nonce of the <script> that loaded xkit.js)
     * @returns {CatalogHandle}
     */
    renderCatalog(element, options) {
      return new Catalog(this, element, options || {});
    }

    /**
     * Open the catalog as a modal dialog over your page (call it from a click handler):
     * focus stays inside until it closes (Escape, its close button, a click on the
     * backdrop, or `close()`), then returns to the element that had it.
     *
     * @param {object} [options] as `renderCatalog`, and:
     * @param {string} [options.connector] open straight to this connector alone (a "Connect
     *   Outlook" button); the dialog closes by itself once it is connected
     * @param {boolean} [options.closeOnConnect] with `connector`: close when connected (default true)
     * @param {string} [options.title] the dialog's title (default "Integrations", or
     *   "Connect <name>" with `connector`)
     * @param {(detail: object) => void} [options.onClose] called with `{reason, connector, connection}`
     * @returns {CatalogDialog} with `close()`, `closed` (a promise of the same detail) and `catalog`
     */
    openCatalog(options) {
      return new CatalogDialog(this, options || {});
    }
  }

  // --- safe Markdown ----------------------------------------------------------------------------

  const SAFE_PROTOCOLS = new Set(["http:", "https:"]);

  /** An absolute http(s) URL, or null: `javascript:`, `data:` and relative links are dropped. */
  function safeHref(raw) {
    try {
      const url = new URL(String(raw).trim());
      return SAFE_PROTOCOLS.has(url.protocol) ? url.href : null;
    } catch (_) {
      return null;
    }
  }

  function h(tag, className, text) {
    const node = doc.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  /** `project-management` → "Project management"; short slugs are acronyms (`crm` → "CRM"). */
  function categoryLabel(slug) {
    const words = String(slug).split("-");
    if (words.length === 1 && words[0].length <= 3) return words[0].toUpperCase();
    const text = words.join(" ");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  /** The focused element, looked for inside shadow roots too. */
  function deepActiveElement() {
    let node = doc.activeElement;
    while (node && node.shadowRoot && node.shadowRoot.activeElement) node = node.shadowRoot.activeElement;
    return node;
  }

  const ESCAPABLE = "\\`*_[]()#+-.!>";
  // [text](url "title"); the URL may hold one level of balanced parentheses, as in CommonMark.
  const LINK = /^\[([^\]\n]+)\]\(\s*((?:[^()\s]|\([^()\s]*\))+)(?:\s+"[^"]*")?\s*\)/;

  /**
   * Inline Markdown — `code`, **strong**, *emphasis*, [links](https://…) — appended to
   * `parent` as DOM nodes. Every piece of text becomes a text node; nothing is parsed as HTML.
   */
  function renderInline(text, parent) {
    let buffer = "";
    const flush = () => {
      if (buffer) parent.appendChild(doc.createTextNode(buffer));
      buffer = "";
    };
    let i = 0;
    while (i < text.length) {
      const ch = text[i];
      if (ch === "\\" && ESCAPABLE.includes(text[i + 1] || "")) {
        buffer += text[i + 1];
        i += 2;
        continue;
      }
      if (ch === "`") {
        const end = text.indexOf("`", i + 1);
        if (end > i + 1) {
          flush();
          parent.appendChild(h("code", null, text.slice(i + 1, end)));
          i = end + 1;
          continue;
        }
      }
      if (ch === "*" || (ch === "_" && !/[A-Za-z0-9]/.test(text[i - 1] || ""))) {
        const marker = text[i + 1] === ch ? ch + ch : ch;
        const start = i + marker.length;
        const end = text.indexOf(marker, start);
        if (end > start && text[start] !== " " && text[end - 1] !== " ") {
          flush();
          const node = h(marker.length === 2 ? "strong" : "em");
          renderInline(text.slice(start, end), node);
          parent.appendChild(node);
          i = end + marker.length;
          continue;
        }
      }
      if (ch === "[") {
        const match = LINK.exec(text.slice(i));
        if (match) {
          flush();
          const href = safeHref(match[2]);
          if (href) {
            const link = h("a");
            link.href = href;
            link.target = "_blank";
            link.rel = "noopener noreferrer nofollow";
            renderInline(match[1], link);
            parent.appendChild(link);
          } else {
            renderInline(match[1], parent);  // keep the words, drop the unsafe target
          }
          i += match[0].length;
          continue;
        }
      }
      buffer += ch;
      i += 1;
    }
    flush();
  }

  const BULLET = /^\s{0,3}[-*+]\s+(.*)$/;
  const NUMBERED = /^\s{0,3}\d{1,9}[.)]\s+(.*)$/;
  const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
  const FENCE = /^\s{0,3}(```|~~~)/;
  const QUOTE = /^\s{0,3}>\s?(.*)$/;
  const RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;

  function startsBlock(line) {
    return BULLET.test(line) || NUMBERED.test(line) || HEADING.test(line) || FENCE.test(line) ||
      QUOTE.test(line) || RULE.test(line);
  }

  /**
   * A safe subset of Markdown as DOM nodes: paragraphs, headings, lists, code blocks, quotes,
   * rules and the inline forms of `renderInline`. Raw HTML stays text.
   * @param {string} source
   * @returns {DocumentFragment}
   */
  function renderMarkdown(source) {
    const out = doc.createDocumentFragment();
    const lines = String(source || "").replace(/\r\n?/g, "\n").split("\n");
    let i = 0;
    while (i < lines.length) {
      const line = lines[i];
      if (!line.trim()) {
        i += 1;
        continue;
      }
      const fence = FENCE.exec(line);
      if (fence) {
        const body = [];
        i += 1;
        while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
        i += 1;
        const pre = h("pre");
        pre.appendChild(h("code", null, body.join("\n")));
        out.appendChild(pre);
        continue;
      }
      const heading = HEADING.exec(line);
      if (heading) {
        // Descriptions live under the connector's own heading: start at h4.
        const node = h(`h${Math.min(6, heading[1].length + 3)}`);
        renderInline(heading[2], node);
        out.appendChild(node);
        i += 1;
        continue;
      }
      if (RULE.test(line)) {
        out.appendChild(h("hr"));
        i += 1;
        continue;
      }
      const listKind = BULLET.test(line) ? BULLET : NUMBERED.test(line) ? NUMBERED : null;
      if (listKind) {
        const items = [];
        while (i < lines.length && lines[i].trim()) {
          const match = listKind.exec(lines[i]);
          if (match) items.push([match[1]]);
          else if (startsBlock(lines[i])) break;
          else items[items.length - 1].push(lines[i].trim());  // the item goes on
          i += 1;
        }
        const list = h(listKind === BULLET ? "ul" : "ol");
        for (const item of items) renderInline(item.join(" "), list.appendChild(h("li")));
        out.appendChild(list);
        continue;
      }
      if (QUOTE.test(line)) {
        const quoted = [];
        while (i < lines.length && QUOTE.test(lines[i])) quoted.push(QUOTE.exec(lines[i++])[1]);
        const quote = h("blockquote");
        quote.appendChild(renderMarkdown(quoted.join("\n")));
        out.appendChild(quote);
        continue;
      }
      const paragraph = [];
      while (i < lines.length && lines[i].trim() && !(paragraph.length && startsBlock(lines[i]))) {
        paragraph.push(lines[i++].trim());
      }
      const p = h("p");
      renderInline(paragraph.join(" "), p);
      out.appendChild(p);
    }
    return out;
  }

  // --- the catalog view -------------------------------------------------------------------------

  const CATALOG_CSS = `
:host { all: initial; display: block;
  --_primary: var(--xkit-primary, #2f5bd3);
  --_on-primary: var(--xkit-on-primary, #ffffff);
  --_text: var(--xkit-text, #1f2933);
  --_muted: var(--xkit-muted, #5f6b7a);
  --_background: var(--xkit-background, transparent);
  --_card: var(--xkit-card-background, #ffffff);
  --_border: var(--xkit-border, #e1e5ea);
  --_radius: var(--xkit-radius, 10px);
  --_font: var(--xkit-font, system-ui, -apple-system, "Segoe UI", Roboto, sans-serif);
  --_ok: var(--xkit-success, #137333);
  --_ok-bg: var(--xkit-success-background, #e6f4ea);
  --_warn: var(--xkit-warning, #8a4b00);
  --_warn-bg: var(--xkit-warning-background, #fdf0dc);
  --_danger: var(--xkit-danger, #b42318);
  --_danger-bg: var(--xkit-danger-background, #fdecea);
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
.root { font: 15px/1.5 var(--_font); color: var(--_text); background: var(--_background); }
.header { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; justify-content: space-between;
  margin: 0 0 16px; }
.title { font-size: 1.35em; font-weight: 650; margin: 0; letter-spacing: -0.01em; }
.search { font: inherit; color: inherit; flex: 0 1 280px; min-width: 0; width: 100%; padding: 8px 12px;
  border: 1px solid var(--_border); border-radius: var(--_radius); background: var(--_card); }
.search:focus, button:focus-visible, a:focus-visible { outline: 2px solid var(--_primary); outline-offset: 2px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 12px; }
.card { display: flex; gap: 14px; align-items: flex-start; width: 100%; padding: 16px; text-align: left;
  font: inherit; color: inherit; background: var(--_card); border: 1px solid var(--_border);
  border-radius: var(--_radius); cursor: pointer; transition: border-color .15s, box-shadow .15s; }
.card:hover { border-color: var(--_primary); box-shadow: 0 2px 10px rgba(15, 23, 42, .08); }
.card-body { flex: 1; min-width: 0; }
.card-top { display: flex; gap: 8px; align-items: center; justify-content: space-between; flex-wrap: wrap; }
.name { font-weight: 600; }
.short { margin: 4px 0 0; color: var(--_muted); font-size: .92em; display: -webkit-box;
  -webkit-line-clamp: 2; -webkit-box-orient: vertical; overflow: hidden; }
.mark { flex: none; width: 42px; height: 42px; border-radius: 9px; display: grid; place-items: center;
  font-weight: 700; font-size: 15px; letter-spacing: .02em; overflow: hidden; background: #eef1f5; }
.mark img { width: 100%; height: 100%; object-fit: contain; }
.mark.large { width: 56px; height: 56px; font-size: 19px; border-radius: 12px; }
.badge { display: inline-block; white-space: nowrap; font-size: .78em; font-weight: 600; padding: 2px 9px;
  border-radius: 999px; }
.badge.connected { color: var(--_ok); background: var(--_ok-bg); }
.badge.attention { color: var(--_warn); background: var(--_warn-bg); }
.empty, .status-line { color: var(--_muted); padding: 24px 0; }
.back { font: inherit; color: var(--_primary); background: none; border: 0; padding: 0; cursor: pointer;
  margin-bottom: 16px; }
.detail-head { display: flex; gap: 16px; align-items: center; margin-bottom: 16px; }
.title-row { display: flex; flex-wrap: wrap; gap: 4px 10px; align-items: center; }
.detail-head h3 { margin: 0; font-size: 1.3em; }
.detail-head .short { -webkit-line-clamp: unset; }
.notice { border-radius: var(--_radius); padding: 10px 14px; margin: 0 0 16px; }
.notice.error { color: var(--_danger); background: var(--_danger-bg); }
.notice.success { color: var(--_ok); background: var(--_ok-bg); }
.connections { list-style: none; margin: 0 0 16px; padding: 0; border: 1px solid var(--_border);
  border-radius: var(--_radius); background: var(--_card); }
.connection { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: center; justify-content: space-between;
  padding: 12px 16px; }
.connection + .connection { border-top: 1px solid var(--_border); }
.account { font-weight: 600; overflow-wrap: anywhere; }
.account-status { color: var(--_muted); font-size: .9em; }
.account-status.attention { color: var(--_warn); }
.row-actions, .actions { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; }
.actions { margin-bottom: 20px; }
.button { font: inherit; font-weight: 600; padding: 8px 16px; border-radius: var(--_radius); cursor: pointer;
  border: 1px solid var(--_primary); background: var(--_primary); color: var(--_on-primary); }
.button.secondary { background: var(--_card); color: var(--_primary); }
.button.danger { background: var(--_card); color: var(--_danger); border-color: var(--_border); }
.button.danger.confirm { background: var(--_danger); color: #fff; border-color: var(--_danger); }
.button:disabled { opacity: .55; cursor: default; }
.confirm-text { font-size: .9em; }
.card-item { position: relative; display: flex; flex-direction: column; }
.card-item > .card { flex: 1; }
.card-item.has-action > .card { padding-bottom: 58px; }
.card-action { position: absolute; right: 16px; bottom: 14px; padding: 5px 14px; font-size: .9em; }
.card-note { margin: 6px 2px 0; color: var(--_danger); font-size: .88em; }
.categories { display: flex; flex-wrap: wrap; gap: 8px; margin: 0 0 14px; }
.chip { font: inherit; font-size: .88em; padding: 4px 12px; border-radius: 999px; cursor: pointer;
  color: var(--_text); background: var(--_card); border: 1px solid var(--_border); }
.chip[aria-pressed="true"] { color: var(--_on-primary); background: var(--_primary); border-color: var(--_primary); }
.not-set-up { text-align: center; padding: 28px 12px; color: var(--_muted); }
.not-set-up-title { margin: 0 0 4px; font-weight: 600; color: var(--_text); }
.not-set-up-text { margin: 0; font-size: .92em; }
.description { border-top: 1px solid var(--_border); padding-top: 8px; overflow-wrap: anywhere; }
.description h4, .description h5, .description h6 { margin: 1.2em 0 .4em; }
.description p, .description ul, .description ol, .description blockquote, .description pre { margin: .7em 0; }
.description code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9em;
  background: #f1f3f6; padding: 1px 5px; border-radius: 4px; }
.description pre { background: #f1f3f6; padding: 12px; border-radius: 8px; overflow-x: auto; }
.description pre code { background: none; padding: 0; }
.description blockquote { border-left: 3px solid var(--_border); padding-left: 12px; color: var(--_muted); }
.description a { color: var(--_primary); }
@media (max-width: 520px) {
  .header { flex-direction: column; align-items: stretch; }
  .search { flex-basis: auto; }
  .grid { grid-template-columns: 1fr; }
  .connection { align-items: flex-start; }
}
`;

  /** What `renderCatalog` returns. */
  class Catalog {
    constructor(client, element, options) {
      if (!element || !element.appendChild) throw new XkitError("invalid_argument", "renderCatalog needs an element");
      this.client = client;
      this.options = options;
      const only = options.connectors;
      this.filter = only ? new Set(Array.isArray(only) ? only : String(only).split(",").map((s) => s.trim()).filter(Boolean)) : null;
      this.connectors = null;
      this.connections = [];
      this.openSlug = options.connector || null;
      this.query = "";
      this.category = null;  // the category filter's choice
      this.notices = new Map();  // connector slug -> {kind, text}
      this.busy = new Set();  // connector slugs or connection ids with a flow running
      this.confirming = null;  // connection id whose removal awaits confirmation
      this.error = null;

      // The host is our own <div>, so the caller's element may be anything and may hold other content.
      this.host = h("div", "xkit-catalog");
      this.host.setAttribute("data-xkit-catalog", "");
      element.appendChild(this.host);
      this.shadow = this.host.attachShadow({ mode: "open" });
      const style = h("style");
      const nonce = options.nonce || SCRIPT_NONCE;
      if (nonce) style.setAttribute("nonce", nonce);
      style.textContent = CATALOG_CSS;
      this.shadow.appendChild(style);
      this.setTheme(options.theme);

      this.root = h("div", "root");
      this.root.setAttribute("part", "root");
      this.shadow.appendChild(this.root);
      this.header = h("div", "header");
      this.titleNode = h("h2", "title");
      this.searchBox = h("input", "search");
      this.searchBox.type = "search";
      this.searchBox.placeholder = "Search integrations";
      this.searchBox.setAttribute("aria-label", "Search integrations");
      this.searchBox.addEventListener("input", () => {
        this.query = this.searchBox.value.trim().toLowerCase();
        this.render();
      });
      this.header.append(this.titleNode, this.searchBox);
      this.body = h("div", "body");
      this.root.append(this.header, this.body);
      this.setOptions({});

      this._onChange = () => this.refresh();
      this._onConfig = (detail) => {
        if (detail.error) {
          this.error = detail.error;
          if (!this.connectors) this.render();
          return undefined;
        }
        if (detail.loggedIn) return this.refresh();
        this.connectors = null;  // signed out: show nothing of the previous context
        this.connections = [];
        this.render();
      };
      client.on("connection:enable", this._onChange);
      client.on("connection:remove", this._onChange);
      client.on("config:update", this._onConfig);
      this.render();
      this.refresh();
    }

    /** Change title, search, connectors or theme after rendering. */
    setOptions(changes) {
      Object.assign(this.options, changes);
      if ("connectors" in changes) {
        const only = changes.connectors;
        this.filter = only ? new Set(Array.isArray(only) ? only : String(only).split(",").map((s) => s.trim()).filter(Boolean)) : null;
      }
      if ("theme" in changes) this.setTheme(changes.theme);
      const title = this.options.title === undefined ? "Integrations" : this.options.title;
      this.titleNode.textContent = title || "";
      this.titleNode.hidden = !title;
      this.showSearch = this.options.search !== false;
      this.render();
    }

    /** Set CSS custom properties on the catalog (`--xkit-primary`, `--xkit-radius`, ...). */
    setTheme(theme) {
      for (const [key, value] of Object.entries(theme || {})) {
        const name = key.startsWith("--") ? key : `--xkit-${key.replace(/^xkit-/, "")}`;
        if (/^--xkit-[a-z0-9-]+$/i.test(name)) this.host.style.setProperty(name, String(value));
      }
    }

    /**
     * Reload connectors and connections from xkit (after `login`). Calls made while a load is
     * running share it, and one more load follows if something changed in the meantime.
     */
    refresh() {
      if (this._refreshing) {
        if (this._fetching) this._again = true;
        return this._refreshing;
      }
      this._refreshing = this._load().finally(() => { this._refreshing = null; });
      return this._refreshing;
    }

    async _load() {
      if (this.client.loginError && !this.client.session) {
        this.error = this.client.loginError;
        this.render();
      }
      await this.client.ready;
      do {
        this._again = false;
        this._fetching = true;
        try {
          const [connectors, connections] = await Promise.all([
            this.client.listConnectors(), this.client.listConnections()]);
          this.connectors = connectors;
          this.connections = connections;
          this.error = null;
          if (this.options.onLoad) this.options.onLoad(connectors);
        } catch (error) {
          this.error = error;
        } finally {
          this._fetching = false;
        }
        this.render();
      } while (this._again);
    }

    /** Show a connector's page (`slug`), or the list (`null`). */
    open(slug) {
      this.openSlug = slug || null;
      this.confirming = null;
      this.render();
    }

    /** Remove the catalog from the page and stop listening. */
    destroy() {
      this.client.off("connection:enable", this._onChange);
      this.client.off("connection:remove", this._onChange);
      this.client.off("config:update", this._onConfig);
      this.host.remove();
    }

    /** Open a connector (or the list) because the user asked; keyboard focus follows. */
    _navigate(slug) {
      const leaving = this.openSlug;
      this.notices.clear();
      this.open(slug);
      if (this.options.onNavigate) this.options.onNavigate(slug || null);
      const target = slug ? this.shadow.querySelector(".back")
        : Array.from(this.shadow.querySelectorAll(".card")).find((c) => c.dataset.connector === leaving);
      if (target) target.focus();
    }

    visibleConnectors() {
      return (this.connectors || []).filter((c) => !this.filter || this.filter.has(c.slug));
    }

    connectionsOf(slug) {
      return this.connections.filter((c) => c.connector.slug === slug);
    }

    render() {
      this.header.hidden = !this.titleNode.textContent && !this.showSearch;
      const onList = !this.openSlug;
      this.searchBox.hidden = !(this.showSearch && onList) || !!(this.error && !this.connectors);
      this.body.replaceChildren();
      if (!this.client.loggedIn && !this.connectors) {
        this.body.appendChild(h("p", "status-line", "Sign in to see your integrations."));
        return;
      }
      if (this.error && !this.connectors && NOT_SET_UP_CODES.has(this.error.code)) {
        // The developer's mistake, told in the console; the end user learns only that.
        const state = h("div", "not-set-up");
        state.setAttribute("role", "alert");
        state.setAttribute("data-state", "not-set-up");
        state.append(h("p", "not-set-up-title", "This catalog isn't set up for this site."),
          h("p", "not-set-up-text", "Integrations can't be shown here yet. Please let the site's team know."));
        this.body.appendChild(state);
        return;
      }
      if (this.error && !this.connectors) {
        this.body.appendChild(h("p", "notice error", `Integrations could not be loaded: ${this.error.message}`));
        return;
      }
      if (!this.connectors) {
        this.body.appendChild(h("p", "status-line", "Loading integrations…"));
        return;
      }
      if (onList) this.renderList(); else this.renderDetail(this.openSlug);
    }

    renderList() {
      const all = this.visibleConnectors();
      const categories = this.options.categories === false || all.length <= CATEGORY_FILTER_MIN ? []
        : Array.from(new Set(all.flatMap((c) => c.categories || []))).sort();
      if (!categories.includes(this.category)) this.category = null;
      const shown = all.filter((c) => (!this.query ||
        `${c.name} ${c.short_description || ""} ${c.slug}`.toLowerCase().includes(this.query)) &&
        (!this.category || (c.categories || []).includes(this.category)));
      if (!all.length) {
        this.body.appendChild(h("p", "empty", "No integrations are available yet."));
        return;
      }
      if (categories.length > 1) this.body.appendChild(this.categoryFilter(categories));
      if (!shown.length) {
        this.body.appendChild(h("p", "empty", `No integrations match “${this.searchBox.value.trim()}”.`));
        return;
      }
      const grid = h("div", "grid");
      grid.setAttribute("role", "list");
      for (const connector of shown) {
        const card = h("button", "card");
        card.type = "button";
        card.setAttribute("data-connector", connector.slug);
        const body = h("div", "card-body");
        const top = h("div", "card-top");
        top.appendChild(h("span", "name", connector.name));
        const badge = this.badge(connector);
        if (badge) top.appendChild(badge);
        body.appendChild(top);
        if (connector.short_description) body.appendChild(h("p", "short", connector.short_description));
        card.append(this.mark(connector, false), body);
        card.addEventListener("click", () => this._navigate(connector.slug));
        grid.appendChild(this.cardItem(connector, card));
      }
      this.body.appendChild(grid);
    }

    // Card actions and categories: kept apart from the card's own markup (logo, name, badge).

    /** The card in its list item, with a Connect / Reconnect button beside it (one click less). */
    cardItem(connector, card) {
      const item = h("div", "card-item");
      item.setAttribute("role", "listitem");
      item.appendChild(card);
      const mine = this.connectionsOf(connector.slug);
      const broken = mine.find((c) => connectionState(c) === "attention");
      if (!broken && mine.some((c) => connectionState(c) === "connected")) return item;
      const label = broken ? "Reconnect" : "Connect";
      const key = broken ? broken.id : connector.slug;
      const action = this.button(label, broken ? "button card-action" : "button secondary card-action",
        this.busy.has(key) || this.busy.has(connector.slug));
      action.setAttribute("data-action", broken ? "reconnect" : "connect");
      action.setAttribute("data-connector", connector.slug);
      action.setAttribute("aria-label", `${label} ${connector.name}`);
      action.addEventListener("click", () => this.run(connector, key,
        broken ? () => this.client.reconnect(broken) : () => this.client.connect(connector.slug)));
      item.classList.add("has-action");
      item.appendChild(action);
      const notice = this.notices.get(connector.slug);
      if (notice && notice.kind === "error") {
        const note = h("p", "card-note", notice.text);
        note.setAttribute("role", "alert");
        item.appendChild(note);
      }
      return item;
    }

    /** Toggle buttons for the templates' categories: all, or one at a time. */
    categoryFilter(categories) {
      const group = h("div", "categories");
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", "Filter by category");
      for (const category of [null, ...categories]) {
        const chip = this.button(category ? categoryLabel(category) : "All", "chip");
        chip.setAttribute("data-category", category || "");
        chip.setAttribute("aria-pressed", String(this.category === category));
        chip.addEventListener("click", () => {
          this.category = category;
          this.render();
          const again = this.shadow.querySelector(`.chip[data-category="${category || ""}"]`);
          if (again) again.focus();
        });
        group.appendChild(chip);
      }
      return group;
    }

    /**
     * The connector's picture: the developer's own logo if it has one, else the provider's
     * mark from xkit (its logo, or a glyph for its category). The letters stay underneath
     * for a picture that cannot load.
     */
    mark(connector, large) {
      const node = h("span", large ? "mark large" : "mark");
      node.setAttribute("aria-hidden", "true");
      const mark = connector.mark || {};
      const letters = () => {
        node.textContent = mark.text || (connector.name || "?").slice(0, 2);
        node.style.background = mark.background || "";
        node.style.color = mark.foreground || "";
      };
      const picture = (connector.logo_url && safeHref(connector.logo_url)) ||
        (connector.mark_url && safeHref(connector.mark_url));
      if (picture) {
        const img = h("img");
        img.alt = "";
        img.referrerPolicy = "no-referrer";
        img.addEventListener("error", letters, { once: true });
        img.src = picture;
        node.appendChild(img);
        node.style.background = "transparent";
      } else {
        letters();
      }
      return node;
    }

    /** Needs attention beats connected; several connected connections are counted. */
    badge(connector) {
      const states = this.connectionsOf(connector.slug).map(connectionState);
      const connected = states.filter((s) => s === "connected").length;
      if (states.includes("attention")) return h("span", "badge attention", "Needs attention");
      if (connected > 1) return h("span", "badge connected", `${connected} connected`);
      if (connected === 1) return h("span", "badge connected", "Connected");
      return null;
    }

    renderDetail(slug) {
      const back = h("button", "back", "← All integrations");
      back.type = "button";
      back.addEventListener("click", () => this._navigate(null));
      back.hidden = !!this.options.single;  // a dialog opened for one connector has no list
      const connector = this.visibleConnectors().find((c) => c.slug === slug);
      if (!connector) {
        this.body.append(back, h("p", "empty", "This integration is not available."));
        return;
      }
      const detail = h("section", "detail");
      detail.setAttribute("data-connector", connector.slug);
      const head = h("div", "detail-head");
      const titles = h("div");
      const name = h("div", "title-row");
      name.appendChild(h("h3", null, connector.name));
      const badge = this.badge(connector);
      if (badge) name.appendChild(badge);
      titles.appendChild(name);
      if (connector.short_description) titles.appendChild(h("p", "short", connector.short_description));
      head.append(this.mark(connector, true), titles);
      detail.append(back, head);

      const notice = this.notices.get(connector.slug);
      if (notice) {
        const node = h("p", `notice ${notice.kind}`, notice.text);
        node.setAttribute("role", notice.kind === "error" ? "alert" : "status");
        detail.appendChild(node);
      }

      const mine = this.connectionsOf(connector.slug).filter((c) => connectionState(c) !== "idle");
      if (mine.length) {
        const list = h("ul", "connections");
        for (const connection of mine) list.appendChild(this.connectionRow(connector, connection));
        detail.appendChild(list);
      }
      const actions = h("div", "actions");
      if (!mine.length || connector.multiple_connections) {
        const label = mine.length ? "Connect another account" : "Connect";
        const connect = this.button(label, "button", this.busy.has(connector.slug));
        connect.setAttribute("data-action", "connect");
        connect.addEventListener("click", () => this.run(connector, connector.slug,
          mine.length ? () => this.client.addConnection(connector.slug) : () => this.client.connect(connector.slug)));
        actions.appendChild(connect);
      }
      if (actions.children.length) detail.appendChild(actions);
      if (connector.description) {
        const description = h("div", "description");
        description.appendChild(renderMarkdown(connector.description));
        detail.appendChild(description);
      }
      this.body.appendChild(detail);
    }

    connectionRow(connector, connection) {
      const row = h("li", "connection");
      row.setAttribute("data-connection-id", connection.id);
      const state = connectionState(connection);
      row.setAttribute("data-state", state);
      const who = h("div");
      const label = connection.authorization && connection.authorization.display_label;
      who.appendChild(h("div", "account", label || connector.name));
      const status = state === "connected" ? "Connected"
        : (connection.authorization && connection.authorization.error_message) || "This connection needs attention.";
      const statusNode = h("div", `account-status ${state}`, state === "attention" ? `Needs attention: ${status}` : status);
      who.appendChild(statusNode);
      const actions = h("div", "row-actions");
      const busy = this.busy.has(connection.id) || this.busy.has(connector.slug);
      if (this.confirming === connection.id) {
        actions.appendChild(h("span", "confirm-text", "Remove this connection?"));
        const yes = this.button("Yes, remove", "button danger confirm", busy);
        yes.setAttribute("data-action", "confirm-remove");
        yes.addEventListener("click", () => {
          this.confirming = null;
          this.run(connector, connection.id, () => this.client.removeConnection(connection), "removed");
        });
        const no = this.button("Keep", "button secondary", busy);
        no.addEventListener("click", () => { this.confirming = null; this.render(); });
        actions.append(yes, no);
      } else {
        const again = this.button("Reconnect", state === "attention" ? "button" : "button secondary", busy);
        again.setAttribute("data-action", "reconnect");
        again.addEventListener("click", () => this.run(connector, connection.id, () => this.client.reconnect(connection)));
        const remove = this.button("Remove", "button danger", busy);
        remove.setAttribute("data-action", "remove");
        remove.addEventListener("click", () => { this.confirming = connection.id; this.render(); });
        actions.append(again, remove);
      }
      row.append(who, actions);
      return row;
    }

    button(text, className, disabled) {
      const node = h("button", className, text);
      node.type = "button";
      node.disabled = !!disabled;
      return node;
    }

    /** Run an action from a button: the popup opens inside `action`, synchronously. */
    run(connector, key, action, done) {
      this.notices.delete(connector.slug);
      let promise;
      try {
        promise = action();
      } catch (error) {
        promise = Promise.reject(error);
      }
      this.busy.add(key);
      this.render();
      promise.then((connection) => {
        const label = connection && connection.authorization && connection.authorization.display_label;
        const text = done === "removed" ? "The connection was removed."
          : label ? `Connected as ${label}.` : `${connector.name} is connected.`;
        this.notices.set(connector.slug, { kind: "success", text });
      }, (error) => {
        this.notices.set(connector.slug, { kind: "error", text: error.message || String(error) });
      }).finally(() => {
        this.busy.delete(key);
        return this.refresh();
      });
    }
  }

  // --- the catalog as a modal dialog --------------------------------------------------------------

  const DIALOG_CSS = `
:host { all: initial; }
dialog { box-sizing: border-box; width: min(760px, calc(100vw - 32px)); max-height: calc(100vh - 32px);
  padding: 0; border: 0; border-radius: 14px; background: #ffffff; color: #1f2933; overflow: auto;
  box-shadow: 0 24px 64px rgba(15, 23, 42, .3); font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
dialog::backdrop { background: rgba(15, 23, 42, .55); }
.head { display: flex; align-items: center; justify-content: space-between; gap: 12px; padding: 16px 20px 0; }
.title { margin: 0; font-size: 1.3em; font-weight: 650; letter-spacing: -0.01em; }
.close { flex: none; font: inherit; font-size: 24px; line-height: 1; width: 38px; height: 38px; border: 0;
  border-radius: 8px; background: transparent; color: #5f6b7a; cursor: pointer; }
.close:hover { background: #eef1f5; }
.close:focus-visible { outline: 2px solid #2f5bd3; outline-offset: 2px; }
.body { padding: 14px 20px 22px; }
@media (max-width: 520px) {
  dialog { width: 100vw; max-width: 100vw; height: 100%; max-height: 100%; margin: 0; border-radius: 0; }
}
`;
  const FOCUSABLE = "button:not([disabled]), input:not([disabled]), select:not([disabled]), " +
    "textarea:not([disabled]), a[href], [tabindex]:not([tabindex='-1'])";

  /** What `openCatalog` returns: an accessible modal dialog holding a catalog. */
  class CatalogDialog {
    constructor(client, options) {
      if (!doc.body) throw new XkitError("invalid_argument", "openCatalog needs a page with a <body>");
      this.client = client;
      this.options = options;
      this.connector = options.connector || null;
      this.opener = deepActiveElement();
      this._closed = false;
      this.closed = new Promise((resolve) => { this._resolveClosed = resolve; });

      this.host = h("div", "xkit-catalog-dialog");
      this.host.setAttribute("data-xkit-dialog", "");
      doc.body.appendChild(this.host);
      const shadow = this.host.attachShadow({ mode: "open" });
      const style = h("style");
      const nonce = options.nonce || SCRIPT_NONCE;
      if (nonce) style.setAttribute("nonce", nonce);
      style.textContent = DIALOG_CSS;
      this.dialog = h("dialog");
      this.dialog.setAttribute("role", "dialog");
      this.dialog.setAttribute("aria-modal", "true");
      this.dialog.setAttribute("aria-labelledby", "xkit-dialog-title");
      this.dialog.setAttribute("part", "dialog");
      const head = h("div", "head");
      this.titleNode = h("h2", "title", options.title || (this.connector ? "Connect" : "Integrations"));
      this.titleNode.id = "xkit-dialog-title";
      this.closeButton = h("button", "close", "×");
      this.closeButton.type = "button";
      this.closeButton.setAttribute("aria-label", "Close");
      this.closeButton.addEventListener("click", () => this.close("button"));
      head.append(this.titleNode, this.closeButton);
      const body = h("div", "body");
      this.dialog.append(head, body);
      shadow.append(style, this.dialog);

      const single = this.connector;
      this.catalog = new Catalog(client, body, Object.assign({}, options, {
        title: "",
        search: single ? false : options.search,
        connector: single,
        connectors: single ? [single] : options.connectors,
        single: !!single,
        onNavigate: undefined,
        onLoad: (connectors) => {
          const found = single && !options.title && connectors.find((c) => c.slug === single);
          if (found) this.titleNode.textContent = `Connect ${found.name}`;
        },
      }));

      // Escape: the browser's cancel event; we close ourselves, so focus goes back too.
      this.dialog.addEventListener("cancel", (event) => {
        event.preventDefault();
        this.close("escape");
      });
      this.dialog.addEventListener("keydown", (event) => this._trapFocus(event));
      this.dialog.addEventListener("click", (event) => {
        if (event.target !== this.dialog) return;
        const box = this.dialog.getBoundingClientRect();
        const inside = event.clientX >= box.left && event.clientX <= box.right &&
          event.clientY >= box.top && event.clientY <= box.bottom;
        if (!inside) this.close("backdrop");
      });
      this._onEnable = (connection) => {
        if (single && options.closeOnConnect !== false && connection && connection.connector &&
            connection.connector.slug === single) {
          this.close("connected", connection);
        }
      };
      client.on("connection:enable", this._onEnable);

      this._overflow = doc.documentElement.style.overflow;
      doc.documentElement.style.overflow = "hidden";  // the page behind does not scroll
      this.dialog.showModal();
      this.closeButton.focus();
      client._emit("catalog:open", { connector: single });
    }

    /** Tab and Shift+Tab cycle through the dialog's controls, never out of it. */
    _trapFocus(event) {
      if (event.key !== "Tab") return;
      const inCatalog = Array.from(this.catalog.shadow.querySelectorAll(FOCUSABLE));
      const all = [this.closeButton, ...inCatalog].filter((node) => node.getClientRects().length > 0);
      if (!all.length) return;
      const at = all.indexOf(deepActiveElement());
      let next;
      if (event.shiftKey) next = at <= 0 ? all[all.length - 1] : all[at - 1];
      else next = at === -1 || at === all.length - 1 ? all[0] : all[at + 1];
      event.preventDefault();
      next.focus();
    }

    /**
     * Close the dialog (again: nothing) and give focus back to what had it.
     * @param {string} [reason] `button`, `escape`, `backdrop`, `connected` or `api` (default)
     * @param {object} [connection] the connection, when closed because it was connected
     */
    close(reason, connection) {
      if (this._closed) return;
      this._closed = true;
      this.client.off("connection:enable", this._onEnable);
      if (this.dialog.open) this.dialog.close();
      this.catalog.destroy();
      this.host.remove();
      doc.documentElement.style.overflow = this._overflow;
      if (this.opener && this.opener.isConnected && typeof this.opener.focus === "function") this.opener.focus();
      const detail = { reason: reason || "api", connector: this.connector, connection: connection || null };
      this._resolveClosed(detail);
      this.client._emit("catalog:close", detail);
      if (this.options.onClose) this.options.onClose(detail);
    }
  }

  // --- <xkit-catalog> ---------------------------------------------------------------------------

  /**
   * `<xkit-catalog title="Integrations" search="false" categories="false" connectors="outlook-email,slack">`
   * renders the catalog of `window.xkit` (call `xkit.login` as usual). `heading` may be used
   * instead of `title`, which browsers also show as a tooltip.
   */
  function defineElement(client) {
    if (!global.customElements || global.customElements.get("xkit-catalog")) return;
    class XkitCatalogElement extends global.HTMLElement {
      static get observedAttributes() {
        return ["title", "heading", "search", "connectors", "categories"];
      }

      connectedCallback() {
        if (!this.catalog) this.catalog = client.renderCatalog(this, this.readOptions());
      }

      disconnectedCallback() {
        if (this.catalog) this.catalog.destroy();
        this.catalog = null;
      }

      attributeChangedCallback() {
        if (this.catalog) this.catalog.setOptions(this.readOptions());
      }

      readOptions() {
        const options = { search: this.getAttribute("search") !== "false",
          categories: this.getAttribute("categories") !== "false" };
        const title = this.hasAttribute("heading") ? this.getAttribute("heading") : this.getAttribute("title");
        if (title !== null) options.title = title;
        options.connectors = this.getAttribute("connectors") || null;
        return options;
      }
    }
    global.customElements.define("xkit-catalog", XkitCatalogElement);
  }

  // --- the global -------------------------------------------------------------------------------

  const xkit = new Xkit();
  xkit.Xkit = Xkit;
  xkit.renderMarkdown = renderMarkdown;
  if (SCRIPT && SCRIPT.src && /\/xkit\.js(?:[?#]|$)/.test(SCRIPT.src)) {
    xkit.init(SCRIPT.src.replace(/[?#].*$/, ""));
  }
  global.xkit = xkit;
  global.XkitError = XkitError;
  defineElement(xkit);
})(window);
