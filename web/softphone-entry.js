// The browser bundle's entry: JsSIP as the global `JsSIP` for static/agent.js.
module.exports = require("jssip");
