/* Trusted Types for the operations view, loaded before every other script.
 *
 * The page's Content-Security-Policy says `require-trusted-types-for 'script'` and
 * `trusted-types default`: every sink that parses a string as HTML or runs it as script
 * (innerHTML, outerHTML, insertAdjacentHTML, document.write, a string given to setTimeout...)
 * throws unless the policy below lets the string through, and no other policy may be made. The
 * view's own code uses no such sink: what a party wrote is only ever text. Leaflet uses
 * innerHTML for a few strings of its own, let through here exactly as its release 1.9.4 writes
 * them (its SVG check, its zoom buttons); anything else, such as another party's text put into
 * a sink by some future code, is refused with an error instead of becoming markup. (Browsers
 * without Trusted Types ignore both directives; the rest of the policy still holds.)
 */
(function () {
  "use strict";
  if (!window.trustedTypes || !window.trustedTypes.createPolicy) return;
  const LEAFLET = new Set([
    "<svg/>",
    '<span aria-hidden="true">+</span>',
    '<span aria-hidden="true">&#x2212;</span>',
  ]);
  window.trustedTypes.createPolicy("default", {
    createHTML: (html) => {
      if (LEAFLET.has(html)) return html;
      throw new TypeError("the operations view puts no markup into the page");
    },
  });
})();
