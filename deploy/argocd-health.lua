-- Argo CD health check for lambdavpc.dev/LambdaVpcAttachment.
-- Install it as argocd-cm key resource.customizations.health.lambdavpc.dev_LambdaVpcAttachment
-- (examples/argocd/argocd-cm.yaml embeds this file; a test keeps the copy identical).
--
-- The rules, in order (docs/gitops.md explains them):
--   status.observedGeneration != metadata.generation -> Progressing (the operator has not seen
--     this spec yet, so whatever the conditions say is about an older one);
--   Stalled=True                                     -> Degraded (a human must act);
--   Ready=True                                       -> Healthy;
--   anything else (Reconciling, Ready=Unknown/False, no status yet) -> Progressing.
-- Written for Lua 5.1 (Argo CD runs gopher-lua).

local function find_condition(conditions, wanted)
  if type(conditions) ~= "table" then
    return nil
  end
  for _, condition in ipairs(conditions) do
    if condition.type == wanted then
      return condition
    end
  end
  return nil
end

local function describe(condition, fallback)
  if condition == nil then
    return fallback
  end
  local reason = condition.reason or condition.type
  if condition.message ~= nil and condition.message ~= "" then
    return reason .. ": " .. condition.message
  end
  return reason
end

local hs = {}
local status = obj.status
local generation = obj.metadata and obj.metadata.generation

if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report a status"
  return hs
end

if status.observedGeneration == nil or status.observedGeneration ~= generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local stalled = find_condition(status.conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled, "Stalled")
  return hs
end

local ready = find_condition(status.conditions, "Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready, "Ready")
  return hs
end

hs.status = "Progressing"
local reconciling = find_condition(status.conditions, "Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.message = describe(reconciling, "Reconciling")
else
  hs.message = describe(ready, "Waiting for the Ready condition")
end
return hs
