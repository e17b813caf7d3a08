// What an IAM block in the model grants, to whom, on what: the vocabulary the rules share.
import { nested, soleExpression, type Block, type Json, type TerraformModel } from './model.ts';

/** google_project_iam_member, google_secret_manager_secret_iam_binding, … (not _iam_custom_role). */
export const isIamGrant = (b: Block): boolean => b.kind === 'resource' && /_iam_(member|binding|policy)$/.test(b.type);

export const isProjectLevel = (b: Block): boolean => /^google_(project|folder|organization)_iam_/.test(b.type);

/** The custom role a `role = google_project_iam_custom_role.X.id` names, if it is defined here. */
export function customRoleOf(model: TerraformModel, grant: Block): Block | undefined {
  const m = /^google_project_iam_custom_role\.([\w-]+)\.(id|name)$/.exec(soleExpression(grant.body.role) ?? '');
  return m ? model.blocks.find((b) => b.kind === 'resource' && b.type === 'google_project_iam_custom_role' && b.name === m[1]) : undefined;
}

export function permissionsOf(role: Block): string[] {
  const p = role.body.permissions;
  return Array.isArray(p) ? p.filter((x): x is string => typeof x === 'string') : [];
}

/** A literal predefined role, or the permissions of a custom role defined here. */
export function grantedPermissions(model: TerraformModel, grant: Block): { role?: string; permissions?: string[] } {
  const role = grant.body.role;
  if (typeof role === 'string' && !role.includes('${')) return { role };
  const custom = customRoleOf(model, grant);
  return custom ? { permissions: permissionsOf(custom) } : {};
}

/**
 * Who a grant is for, as written: `var.bot_members` for `member = each.value` over
 * `for_each = var.bot_members`, `google_service_account.gateway.member`, or a literal member.
 */
export function membersOf(grant: Block): string[] {
  const raw: Json[] = grant.body.member !== undefined ? [grant.body.member] : Array.isArray(grant.body.members) ? grant.body.members : [grant.body.members ?? ''];
  return raw.map((m) => {
    const expr = soleExpression(m);
    if (expr === 'each.value' || expr === 'each.key') return soleExpression(grant.body.for_each) ?? String(grant.body.for_each);
    return expr ?? String(m);
  });
}

/** The condition expression with a `${local.X}` resolved, so a rule can see what it names. */
export function conditionOf(model: TerraformModel, grant: Block): string | undefined {
  const expression = nested(grant.body, 'condition')?.expression;
  const local = /^local\.([\w-]+)$/.exec(soleExpression(expression) ?? '');
  const resolved = local ? model.locals[local[1]!] : expression;
  return typeof resolved === 'string' ? resolved : undefined;
}
