import { ActivateUserService } from './activate-user/activate-user.service.js';
import { CreateUserService } from './create-user/create-user.service.js';
import { DeleteUserService } from './delete-user/delete-user.service.js';
import { GetUserService } from './get-user/get-user.service.js';
import { ListUsersService } from './list-users/list-users.service.js';
import { UpdateUserService } from './update-user/update-user.service.js';
import type { UserRepository } from './user.repository.js';

/** Every use case of the user context; what the HTTP interface needs. */
export interface UserUseCases {
  createUser: CreateUserService;
  getUser: GetUserService;
  listUsers: ListUsersService;
  updateUser: UpdateUserService;
  deleteUser: DeleteUserService;
  activateUser: ActivateUserService;
}

/** Wires every use case to one repository, without a container (temporal's `createActivities` style). */
export function createUserUseCases(users: UserRepository): UserUseCases {
  return {
    createUser: new CreateUserService(users),
    getUser: new GetUserService(users),
    listUsers: new ListUsersService(users),
    updateUser: new UpdateUserService(users),
    deleteUser: new DeleteUserService(users),
    activateUser: new ActivateUserService(users),
  };
}
