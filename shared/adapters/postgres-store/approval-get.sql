SELECT record FROM gatehouse_approvals WHERE approval_id = $1
