/* Trusted Types for the API docs page (/docs), loaded before Swagger UI.
 *
 * The page runs under the operations view's Content-Security-Policy (no inline script, no
 * event-handler attributes, scripts from this origin only; `require-trusted-types-for
 * 'script'`, one policy named `default`). Swagger UI (React) writes HTML into the page in one
 * place: the Markdown of the API's own descriptions, from /openapi.json, which the service
 * builds from its code (no party writes any of it), rendered and then sanitised by Swagger UI
 * (DOMPurify) before React sets it as innerHTML. So this policy lets HTML through, except what
 * would name a script, a frame or an event handler, which nothing in those descriptions does:
 * should some other string ever reach a sink here, it is refused rather than trusted, and the
 * policy above still forbids any script it could carry. Script URLs and script text are
 * refused outright (Swagger UI creates no scripts).
 */
(function () {
  "use strict";
  if (!window.trustedTypes || !window.trustedTypes.createPolicy) return;
  const ACTIVE = /<\s*(script|iframe|frame|object|embed|base|meta|link|style)\b|\son\w+\s*=|javascript:/i;
  window.trustedTypes.createPolicy("default", {
    createHTML: (html) => {
      if (ACTIVE.test(html)) throw new TypeError("the API docs put no active markup into the page");
      return html;
    },
  });
})();
