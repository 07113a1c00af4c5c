// The ReDoc page (templates/drf_spectacular/redoc.html) loads nothing from outside: ReDoc's
// sidebar asks for Redocly's logo at cdn.redoc.ly, which the Content-Security-Policy
// refuses (and which is unreachable offline). Its address becomes an empty data: URL,
// whose load error makes ReDoc drop the logo; the "API docs by Redocly" text stays.
(function () {
  "use strict";
  var outside = /^https?:\/\/cdn\.redoc\.ly\//;
  var setAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function (name, value) {
    if (this instanceof HTMLImageElement && String(name).toLowerCase() === "src" && outside.test(String(value))) {
      value = "data:,";
    }
    return setAttribute.call(this, name, value);
  };
  var src = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, "src");
  Object.defineProperty(HTMLImageElement.prototype, "src", {
    configurable: true,
    enumerable: src.enumerable,
    get: src.get,
    set: function (value) {
      src.set.call(this, outside.test(String(value)) ? "data:," : value);
    },
  });
})();
